/**
 * Joining byte arrays, the one helper every framing layer (EBML, Ogg, PES, the transcoder's stdin) needs.
 */

/** `parts` in one new array; a single part is returned as it is (callers that keep it must copy). */
export const concatBytes = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  let length = 0
  for (const part of parts) length += part.byteLength
  const out = new Uint8Array(length)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}
