/**
 * H.264 byte-stream conversions shared by the RTP, MPEG-TS and WebRTC ingests: Annex-B start codes (ITU-T H.264
 * Annex B) to the core's 4-byte length-prefixed AVCC access units, and an avcC record (ISO/IEC 14496-15 5.3.3.1)
 * built from in-band SPS and PPS.
 */
import { parseSps } from "./h264-sps.ts"

export const NAL_IDR = 5
export const NAL_SEI = 6
export const NAL_SPS = 7
export const NAL_PPS = 8
export const NAL_AUD = 9

export const nalType = (nal: Uint8Array): number => nal[0]! & 0x1f

/** Splits an Annex-B byte stream at its 3- or 4-byte start codes; the NAL units are views, not copies. */
export const splitAnnexB = (data: Uint8Array): Array<Uint8Array> => {
  const nals: Array<Uint8Array> = []
  let start = -1
  let i = 0
  while (i + 2 < data.length) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (start >= 0) nals.push(trimTrailingZeros(data, start, i))
      i += 3
      start = i
    } else {
      i++
    }
  }
  if (start >= 0 && start < data.length) nals.push(data.subarray(start))
  else if (start < 0 && data.length > 0) nals.push(data)
  return nals.filter((nal) => nal.length > 0)
}

/** The zero before a 4-byte start code belongs to the start code, not to the NAL before it. */
const trimTrailingZeros = (data: Uint8Array, start: number, end: number): Uint8Array => {
  let last = end
  while (last > start && data[last - 1] === 0) last--
  return data.subarray(start, last)
}

/** Packs NAL units as one AVCC access unit: each prefixed with its 4-byte big-endian length. */
export const toAvcc = (nals: ReadonlyArray<Uint8Array>): Uint8Array => {
  let size = 0
  for (const nal of nals) size += 4 + nal.length
  const out = new Uint8Array(size)
  let offset = 0
  for (const nal of nals) {
    const length = nal.length
    out[offset] = length >>> 24
    out[offset + 1] = (length >>> 16) & 0xff
    out[offset + 2] = (length >>> 8) & 0xff
    out[offset + 3] = length & 0xff
    out.set(nal, offset + 4)
    offset += 4 + length
  }
  return out
}

/** An AVCDecoderConfigurationRecord with 4-byte NAL lengths, from one SPS and one PPS. */
export const makeAvcC = (sps: Uint8Array, pps: Uint8Array): Uint8Array => {
  const out = new Uint8Array(11 + sps.length + pps.length)
  out[0] = 1 // configurationVersion
  out[1] = sps[1]! // AVCProfileIndication
  out[2] = sps[2]! // profile_compatibility
  out[3] = sps[3]! // AVCLevelIndication
  out[4] = 0xff // reserved 6 bits, lengthSizeMinusOne = 3
  out[5] = 0xe1 // reserved 3 bits, one SPS
  out[6] = sps.length >> 8
  out[7] = sps.length & 0xff
  out.set(sps, 8)
  let offset = 8 + sps.length
  out[offset++] = 1 // one PPS
  out[offset++] = pps.length >> 8
  out[offset++] = pps.length & 0xff
  out.set(pps, offset)
  return out
}

/** Picture size from an SPS NAL, or undefined when it does not parse. */
export const spsDimensions = (sps: Uint8Array): { readonly width: number; readonly height: number } | undefined => {
  const info = parseSps(sps)
  return info && { width: info.width, height: info.height }
}
