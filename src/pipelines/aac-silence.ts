/**
 * A raw AAC frame of digital silence for each channel configuration, so that the transcoder can fill gaps in an AAC
 * input with 1024 samples at a time. Each channel's individual_channel_stream (ISO/IEC 14496-3 4.4.2.7) has
 * max_sfb = 0: no scale factor band is coded, so every spectral coefficient, and the decoded audio, is zero.
 */

/** syntactic elements (14496-3 Table 4.85). */
const SCE = 0
const CPE = 1
const LFE = 3
const END = 7

/** The elements of each channelConfiguration 1-7 (14496-3 Table 1.19), in bitstream order. */
const ELEMENTS: ReadonlyArray<ReadonlyArray<number>> = [
  [],
  [SCE],
  [CPE],
  [SCE, CPE],
  [SCE, CPE, SCE],
  [SCE, CPE, CPE],
  [SCE, CPE, CPE, LFE],
  [SCE, CPE, CPE, CPE, LFE]
]

class BitWriter {
  readonly #bytes: Array<number> = []
  #bit = 0
  write(value: number, bits: number): void {
    for (let i = bits - 1; i >= 0; i--) {
      if (this.#bit % 8 === 0) this.#bytes.push(0)
      if ((value >> i) & 1) this.#bytes[this.#bytes.length - 1]! |= 0x80 >> (this.#bit % 8)
      this.#bit++
    }
  }
  /** The bits written, zero-padded to a whole byte (the byte_alignment() after a raw_data_block). */
  bytes(): Uint8Array {
    return Uint8Array.from(this.#bytes)
  }
}

/** individual_channel_stream(0, 0) of a silent long window: 25 bits. */
const silentChannel = (bits: BitWriter): void => {
  bits.write(100, 8) // global_gain: unused, no band is coded
  bits.write(0, 1) // ics_reserved_bit
  bits.write(0, 2) // window_sequence ONLY_LONG_SEQUENCE
  bits.write(0, 1) // window_shape
  bits.write(0, 6) // max_sfb = 0: no section, scale factor or spectral data follows
  bits.write(0, 1) // predictor_data_present
  bits.write(0, 1) // pulse_data_present
  bits.write(0, 1) // tns_data_present
  bits.write(0, 1) // gain_control_data_present
}

/** The raw_data_block (14496-3 4.4.2.1) of one silent frame for `channelConfiguration`, or undefined for 0 or >7. */
export const aacSilentFrame = (channelConfiguration: number): Uint8Array | undefined => {
  const elements = ELEMENTS[channelConfiguration]
  if (elements === undefined || elements.length === 0) return undefined
  const bits = new BitWriter()
  const tags = new Map<number, number>()
  for (const element of elements) {
    const tag = tags.get(element) ?? 0
    tags.set(element, tag + 1)
    bits.write(element, 3)
    bits.write(tag, 4) // element_instance_tag
    if (element === CPE) {
      bits.write(0, 1) // common_window = 0: each channel has its own ics_info
      silentChannel(bits)
    }
    silentChannel(bits)
  }
  bits.write(END, 3)
  return bits.bytes()
}
