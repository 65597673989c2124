/**
 * The elementary stream forms MPEG-TS carries: H.264 as Annex B byte stream access units that begin with an
 * access unit delimiter (ISO/IEC 13818-1 2.14.1; ITU-T H.264 Annex B and 7.4.1.2.3), with SPS and PPS in every
 * IDR access unit; AAC as ADTS frames (ISO/IEC 14496-3 1.A.2; 13818-7 6.2).
 */

const START_CODE = [0, 0, 0, 1]
/** nal_unit_type values (H.264 table 7-1). */
const NAL_SPS = 7
const NAL_AUD = 9
/** An access unit delimiter saying "any slice type" (primary_pic_type 7). */
const AUD = new Uint8Array([0, 0, 0, 1, NAL_AUD, 0xf0])

export interface ParameterSets {
  readonly sps: ReadonlyArray<Uint8Array>
  readonly pps: ReadonlyArray<Uint8Array>
}

/** The SPS and PPS NAL units of an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1), or undefined. */
export const parameterSetsOf = (avcC: Uint8Array): ParameterSets | undefined => {
  if (avcC.byteLength < 7 || avcC[0] !== 1) return undefined
  const sps: Array<Uint8Array> = []
  const pps: Array<Uint8Array> = []
  let at = 6
  const read = (count: number, into: Array<Uint8Array>): boolean => {
    for (let i = 0; i < count; i++) {
      if (at + 2 > avcC.byteLength) return false
      const length = (avcC[at]! << 8) | avcC[at + 1]!
      if (at + 2 + length > avcC.byteLength) return false
      into.push(avcC.subarray(at + 2, at + 2 + length))
      at += 2 + length
    }
    return true
  }
  if (!read(avcC[5]! & 0x1f, sps)) return undefined
  if (at >= avcC.byteLength || !read(avcC[at++]!, pps)) return undefined
  return { sps, pps }
}

/**
 * One access unit of 4-byte length-prefixed NAL units as Annex B: our AUD first (any AUD of the input is dropped),
 * then the parameter sets when `keyframe` and the unit lacks an SPS, then the NAL units. Undefined if a length
 * runs past the end.
 */
export const annexBAccessUnit = (avcc: Uint8Array, keyframe: boolean, sets: ParameterSets): Uint8Array | undefined => {
  let size = AUD.byteLength
  let hasSps = false
  for (let at = 0; at < avcc.byteLength;) {
    if (at + 4 > avcc.byteLength) return undefined
    const length = ((avcc[at]! << 24) | (avcc[at + 1]! << 16) | (avcc[at + 2]! << 8) | avcc[at + 3]!) >>> 0
    if (at + 4 + length > avcc.byteLength) return undefined
    const type = length > 0 ? avcc[at + 4]! & 0x1f : 0
    if (type === NAL_SPS) hasSps = true
    if (type !== NAL_AUD) size += 4 + length
    at += 4 + length
  }
  const insertSets = keyframe && !hasSps
  if (insertSets) for (const nal of [...sets.sps, ...sets.pps]) size += 4 + nal.byteLength
  const out = new Uint8Array(size)
  out.set(AUD, 0)
  let p = AUD.byteLength
  const put = (nal: Uint8Array): void => {
    out.set(START_CODE, p)
    out.set(nal, p + 4)
    p += 4 + nal.byteLength
  }
  if (insertSets) {
    for (const nal of sets.sps) put(nal)
    for (const nal of sets.pps) put(nal)
  }
  for (let at = 0; at < avcc.byteLength;) {
    const length = ((avcc[at]! << 24) | (avcc[at + 1]! << 16) | (avcc[at + 2]! << 8) | avcc[at + 3]!) >>> 0
    const nal = avcc.subarray(at + 4, at + 4 + length)
    if (length === 0 || (nal[0]! & 0x1f) !== NAL_AUD) put(nal)
    at += 4 + length
  }
  return out
}

/** Sampling frequencies by index (ISO/IEC 14496-3 1.6.3.4, table 1.18). */
const SAMPLING_FREQUENCIES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]

export interface AdtsConfig {
  /** ADTS profile: audio object type - 1 (Main 0, LC 1, SSR 2, LTP 3). */
  readonly profile: number
  readonly frequencyIndex: number
  readonly channelConfiguration: number
}

/**
 * What an ADTS header needs, from an AudioSpecificConfig (1.6.2.1). HE-AAC (SBR, object types 5 and 29) is sent as
 * its AAC-LC core, whose rate comes first in the config; decoders find SBR in the stream (implicit signalling).
 * Undefined for what ADTS cannot describe: object types above 4 other than SBR/PS, or a program config element.
 */
export const adtsConfigOf = (asc: Uint8Array): AdtsConfig | undefined => {
  if (asc.byteLength < 2) return undefined
  const objectType = asc[0]! >> 3
  let frequencyIndex = ((asc[0]! & 0x07) << 1) | (asc[1]! >> 7)
  let channelConfiguration = (asc[1]! >> 3) & 0x0f
  if (frequencyIndex === 15) {
    // An explicit 24-bit frequency follows; ADTS needs the index of that frequency.
    if (asc.byteLength < 5) return undefined
    const frequency = ((asc[1]! & 0x7f) << 17) | (asc[2]! << 9) | (asc[3]! << 1) | (asc[4]! >> 7)
    frequencyIndex = SAMPLING_FREQUENCIES.indexOf(frequency)
    channelConfiguration = (asc[4]! >> 3) & 0x0f
  }
  const profile = objectType === 5 || objectType === 29 ? 1 : objectType - 1
  if (profile < 0 || profile > 3 || frequencyIndex < 0 || frequencyIndex > 12) return undefined
  if (channelConfiguration === 0 || channelConfiguration > 7) return undefined
  return { profile, frequencyIndex, channelConfiguration }
}

/** The 7-byte ADTS header (no CRC) for a raw access unit of `payloadLength` bytes. */
export const adtsHeader = (config: AdtsConfig, payloadLength: number): Uint8Array => {
  const frameLength = payloadLength + 7
  const h = new Uint8Array(7)
  h[0] = 0xff // syncword 0xFFF
  h[1] = 0xf1 // syncword, MPEG-4, layer 0, protection_absent
  h[2] = (config.profile << 6) | (config.frequencyIndex << 2) | (config.channelConfiguration >> 2)
  h[3] = ((config.channelConfiguration & 0x03) << 6) | (frameLength >> 11)
  h[4] = (frameLength >> 3) & 0xff
  h[5] = ((frameLength & 0x07) << 5) | 0x1f // buffer fullness 0x7FF: variable bit rate
  h[6] = 0xfc // buffer fullness, one raw data block
  return h
}
