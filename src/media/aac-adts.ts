/**
 * AAC in ADTS framing (ISO/IEC 13818-7 6.2 / 14496-3 1.A.2), as MPEG-TS carries it: parse a header, strip it
 * to the core's raw access units, and build the AudioSpecificConfig it implies. Also builds ADTS headers for
 * writers that need them.
 */

export const ADTS_SAMPLING_FREQUENCIES = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350
] as const

export interface AdtsHeader {
  /** audioObjectType = profile + 1 (2 is AAC-LC). */
  readonly audioObjectType: number
  readonly samplingIndex: number
  readonly sampleRate: number
  readonly channels: number
  readonly headerLength: number
  /** The whole frame, header included. */
  readonly frameLength: number
}

/** Parses the ADTS header at `offset`, or undefined when there is no valid one there. */
export const parseAdtsHeader = (data: Uint8Array, offset = 0): AdtsHeader | undefined => {
  if (offset + 7 > data.length) return undefined
  if (data[offset] !== 0xff || (data[offset + 1]! & 0xf6) !== 0xf0) return undefined
  const protectionAbsent = data[offset + 1]! & 0x01
  const profile = data[offset + 2]! >> 6
  const samplingIndex = (data[offset + 2]! >> 2) & 0x0f
  const sampleRate = ADTS_SAMPLING_FREQUENCIES[samplingIndex]
  if (sampleRate === undefined) return undefined
  const channels = ((data[offset + 2]! & 0x01) << 2) | (data[offset + 3]! >> 6)
  const frameLength = ((data[offset + 3]! & 0x03) << 11) | (data[offset + 4]! << 3) | (data[offset + 5]! >> 5)
  const headerLength = protectionAbsent ? 7 : 9
  if (frameLength < headerLength) return undefined
  return { audioObjectType: profile + 1, samplingIndex, sampleRate, channels, headerLength, frameLength }
}

/** The raw access units of a run of ADTS frames; stops at the first byte that is not a whole frame. */
export const splitAdts = (data: Uint8Array): { readonly header: AdtsHeader | undefined; readonly frames: Array<Uint8Array> } => {
  const frames: Array<Uint8Array> = []
  let first: AdtsHeader | undefined
  let offset = 0
  while (offset < data.length) {
    const header = parseAdtsHeader(data, offset)
    if (header === undefined || offset + header.frameLength > data.length) break
    first ??= header
    frames.push(data.subarray(offset + header.headerLength, offset + header.frameLength))
    offset += header.frameLength
  }
  return { header: first, frames }
}

/** The 2-byte AudioSpecificConfig (14496-3 1.6.2.1) an ADTS header describes. */
export const adtsAudioSpecificConfig = (header: AdtsHeader): Uint8Array =>
  Uint8Array.of(
    (header.audioObjectType << 3) | (header.samplingIndex >> 1),
    ((header.samplingIndex & 1) << 7) | (header.channels << 3)
  )

/** A 7-byte ADTS header (no CRC) for a raw AAC frame of `payloadLength` bytes. */
export const adtsHeader = (
  config: { readonly audioObjectType: number; readonly samplingIndex: number; readonly channels: number },
  payloadLength: number
): Uint8Array => {
  const length = payloadLength + 7
  return Uint8Array.of(
    0xff,
    0xf1,
    ((config.audioObjectType - 1) << 6) | (config.samplingIndex << 2) | (config.channels >> 2),
    ((config.channels & 3) << 6) | (length >> 11),
    (length >> 3) & 0xff,
    ((length & 7) << 5) | 0x1f,
    0xfc
  )
}
