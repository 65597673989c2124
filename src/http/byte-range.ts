/**
 * The Range header of a download against the file's size: RFC 9110 §14.1.2 (byte ranges), §14.2 (Range), §14.4
 * (Content-Range) and §15.5.17 (416). Plain functions, no I/O, so every case is a table or property test.
 */

/** What to send: the whole file (200), one inclusive span of it (206), or nothing (416). */
export type ByteRange =
  | { readonly _tag: "Whole" }
  | { readonly _tag: "Part"; readonly start: number; readonly end: number }
  | { readonly _tag: "Unsatisfiable" }

const whole: ByteRange = { _tag: "Whole" }
const unsatisfiable: ByteRange = { _tag: "Unsatisfiable" }

const digits = /^\d+$/

/**
 * Reads `header` for a file of `size` bytes.
 * - No header, another unit, or a malformed spec: the header is ignored (§14.2 lets a server ignore Range).
 * - Several ranges (`bytes=0-1,5-6`): ignored too, the whole file is sent with 200. One player asking for
 *   several spans gets correct bytes, and the server never writes multipart/byteranges.
 * - `bytes=a-b`, `bytes=a-` and the suffix `bytes=-n` give one span, clamped to the file's end.
 * - A first byte at or past the end, or a suffix of zero bytes, cannot be satisfied.
 */
export const parseRange = (header: string | undefined, size: number): ByteRange => {
  if (header === undefined) return whole
  const equals = header.indexOf("=")
  if (equals < 0 || header.slice(0, equals).trim().toLowerCase() !== "bytes") return whole
  const specs = header.slice(equals + 1).split(",")
  if (specs.length !== 1) return whole
  const spec = specs[0]!.trim()
  const dash = spec.indexOf("-")
  if (dash < 0) return whole
  const first = spec.slice(0, dash).trim()
  const last = spec.slice(dash + 1).trim()
  if (first === "") {
    if (!digits.test(last)) return whole
    const length = Number(last)
    if (length === 0 || size === 0) return unsatisfiable
    return { _tag: "Part", start: Math.max(0, size - length), end: size - 1 }
  }
  if (!digits.test(first) || (last !== "" && !digits.test(last))) return whole
  const start = Number(first)
  const requestedEnd = last === "" ? Infinity : Number(last)
  if (requestedEnd < start) return whole
  if (start >= size) return unsatisfiable
  return { _tag: "Part", start, end: Math.min(requestedEnd, size - 1) }
}

/** `Content-Range` of a 206 (§14.4): `bytes 0-499/1234`. */
export const contentRange = (range: { readonly start: number; readonly end: number }, size: number): string =>
  `bytes ${range.start}-${range.end}/${size}`

/** `Content-Range` of a 416 (§15.5.17): `bytes * /1234` without the space, the size the client may ask within. */
export const unsatisfiedRange = (size: number): string => `bytes */${size}`
