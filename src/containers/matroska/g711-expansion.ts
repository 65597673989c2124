/**
 * G.711 A-law and µ-law expanded to 16-bit linear PCM (ITU-T G.711, tables 1 and 2). Matroska through mediabunny
 * has no G.711 codec id, so PCMA/PCMU are stored as A_PCM/INT/LIT: the expansion is exact, only twice the size.
 */

const alawToLinear = (code: number): number => {
  const a = code ^ 0x55
  const segment = (a & 0x70) >> 4
  let magnitude = (a & 0x0f) << 4
  magnitude += segment === 0 ? 8 : 0x108
  if (segment > 1) magnitude <<= segment - 1
  return (a & 0x80) !== 0 ? magnitude : -magnitude
}

const ulawToLinear = (code: number): number => {
  const u = ~code & 0xff
  const magnitude = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4)
  return (u & 0x80) !== 0 ? 0x84 - magnitude : magnitude - 0x84
}

const table = (expand: (code: number) => number): Int16Array =>
  Int16Array.from({ length: 256 }, (_, code) => expand(code))

const ALAW = table(alawToLinear)
const ULAW = table(ulawToLinear)

/** One G.711 frame (a byte per sample) as little-endian signed 16-bit samples. */
export const expandG711 = (law: "alaw" | "ulaw", data: Uint8Array): Uint8Array => {
  const lookup = law === "alaw" ? ALAW : ULAW
  const out = new Uint8Array(data.byteLength * 2)
  const view = new DataView(out.buffer)
  for (let i = 0; i < data.byteLength; i++) view.setInt16(i * 2, lookup[data[i]!]!, true)
  return out
}
