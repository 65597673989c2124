/**
 * Just enough of the H.264 sequence parameter set (ITU-T H.264, 7.3.2.1.1) to learn the picture size, plus the
 * AVCDecoderConfigurationRecord (ISO/IEC 14496-15, 5.3.3.1) that carries it over RTMP/FLV.
 */

/** Reads Exp-Golomb coded bits (H.264 9.1). Past the end it yields zeros and sets `overrun`, instead of throwing. */
class BitReader {
  private readonly bytes: Uint8Array
  private bit = 0
  overrun = false
  constructor(bytes: Uint8Array) {
    this.bytes = bytes
  }

  u1(): number {
    const byte = this.bit >> 3
    if (byte >= this.bytes.length) {
      this.overrun = true
      return 0
    }
    const value = (this.bytes[byte] >> (7 - (this.bit & 7))) & 1
    this.bit++
    return value
  }

  u(n: number): number {
    let value = 0
    for (let i = 0; i < n; i++) value = value * 2 + this.u1()
    return value
  }

  ue(): number {
    let zeros = 0
    while (this.u1() === 0) {
      if (this.overrun || ++zeros > 31) {
        this.overrun = true
        return 0
      }
    }
    return 2 ** zeros - 1 + this.u(zeros)
  }

  se(): number {
    const k = this.ue()
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2)
  }
}

/** Drops emulation prevention bytes: 00 00 03 becomes 00 00 (H.264 7.4.1). */
const unescapeRbsp = (nal: Uint8Array): Uint8Array => {
  const out = new Uint8Array(nal.length)
  let n = 0
  let zeros = 0
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i]
    if (zeros >= 2 && b === 3) {
      zeros = 0
      continue
    }
    zeros = b === 0 ? zeros + 1 : 0
    out[n++] = b
  }
  return out.subarray(0, n)
}

/** profile_idc values whose SPS carries chroma format and bit depth fields (7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135])

const skipScalingList = (r: BitReader, size: number): void => {
  let last = 8
  let next = 8
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256
    last = next === 0 ? last : next
  }
}

export interface SpsInfo {
  readonly profileIdc: number
  readonly levelIdc: number
  readonly width: number
  readonly height: number
}

/** Parses an SPS NAL unit (with its 1-byte NAL header); undefined if it is not an SPS or is cut short. */
export const parseSps = (nal: Uint8Array): SpsInfo | undefined => {
  if (nal.length < 4 || (nal[0] & 0x1f) !== 7) return undefined
  const r = new BitReader(unescapeRbsp(nal.subarray(1)))
  const profileIdc = r.u(8)
  r.u(8) // constraint flags
  const levelIdc = r.u(8)
  r.ue() // seq_parameter_set_id
  let chromaFormatIdc = 1
  let separateColourPlane = 0
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue()
    if (chromaFormatIdc === 3) separateColourPlane = r.u1()
    r.ue() // bit_depth_luma_minus8
    r.ue() // bit_depth_chroma_minus8
    r.u1() // qpprime_y_zero_transform_bypass_flag
    if (r.u1() === 1) {
      const lists = chromaFormatIdc === 3 ? 12 : 8
      for (let i = 0; i < lists; i++) if (r.u1() === 1) skipScalingList(r, i < 6 ? 16 : 64)
    }
  }
  r.ue() // log2_max_frame_num_minus4
  const picOrderCntType = r.ue()
  if (picOrderCntType === 0) {
    r.ue() // log2_max_pic_order_cnt_lsb_minus4
  } else if (picOrderCntType === 1) {
    r.u1() // delta_pic_order_always_zero_flag
    r.se() // offset_for_non_ref_pic
    r.se() // offset_for_top_to_bottom_field
    const cycle = r.ue()
    for (let i = 0; i < cycle && !r.overrun; i++) r.se()
  }
  r.ue() // max_num_ref_frames
  r.u1() // gaps_in_frame_num_value_allowed_flag
  const widthInMbs = r.ue() + 1
  const heightInMapUnits = r.ue() + 1
  const frameMbsOnly = r.u1()
  if (frameMbsOnly === 0) r.u1() // mb_adaptive_frame_field_flag
  r.u1() // direct_8x8_inference_flag
  let cropLeft = 0
  let cropRight = 0
  let cropTop = 0
  let cropBottom = 0
  if (r.u1() === 1) {
    cropLeft = r.ue()
    cropRight = r.ue()
    cropTop = r.ue()
    cropBottom = r.ue()
  }
  if (r.overrun) return undefined
  // Crop units (7.4.2.1.1, Table 6-1): monochrome or separate planes crop in luma samples, 4:2:0 in pairs, etc.
  const chromaArrayType = separateColourPlane === 1 ? 0 : chromaFormatIdc
  const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1
  const subHeightC = chromaArrayType === 1 ? 2 : 1
  const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC
  const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * (2 - frameMbsOnly)
  const width = widthInMbs * 16 - cropUnitX * (cropLeft + cropRight)
  const height = (2 - frameMbsOnly) * heightInMapUnits * 16 - cropUnitY * (cropTop + cropBottom)
  if (width <= 0 || height <= 0) return undefined
  return { profileIdc, levelIdc, width, height }
}

export interface AvcDecoderConfig {
  /** NAL unit length field size in bytes (lengthSizeMinusOne + 1): 1, 2 or 4. */
  readonly nalLengthSize: number
  readonly sps: ReadonlyArray<Uint8Array>
  readonly pps: ReadonlyArray<Uint8Array>
}

/** Parses an AVCDecoderConfigurationRecord (14496-15 5.3.3.1.2); undefined if malformed. */
export const parseAvcDecoderConfig = (avcC: Uint8Array): AvcDecoderConfig | undefined => {
  if (avcC.length < 7 || avcC[0] !== 1) return undefined
  const nalLengthSize = (avcC[4] & 0x03) + 1
  if (nalLengthSize === 3) return undefined
  let pos = 5
  const readSets = (count: number): Array<Uint8Array> | undefined => {
    const sets: Array<Uint8Array> = []
    for (let i = 0; i < count; i++) {
      if (pos + 2 > avcC.length) return undefined
      const length = (avcC[pos] << 8) | avcC[pos + 1]
      pos += 2
      if (pos + length > avcC.length) return undefined
      sets.push(avcC.subarray(pos, pos + length))
      pos += length
    }
    return sets
  }
  const sps = readSets(avcC[pos++] & 0x1f)
  if (sps === undefined || pos >= avcC.length) return undefined
  const pps = readSets(avcC[pos++])
  if (pps === undefined) return undefined
  return { nalLengthSize, sps, pps }
}
