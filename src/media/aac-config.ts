/**
 * The head of an MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3, 1.6.2.1): object type, sampling rate and channels,
 * which an AAC sequence header over RTMP/FLV carries.
 */

/** samplingFrequencyIndex values 0-12 (14496-3 Table 1.18); 15 means an explicit 24-bit rate follows. */
const SAMPLING_FREQUENCIES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]
const EXPLICIT_FREQUENCY = 0x0f
/** Audio object types of SBR and PS (HE-AAC v1/v2), whose config names the output rate separately (1.6.2.1). */
const SBR = 5
const PS = 29

export interface AudioSpecificConfigInfo {
  readonly audioObjectType: number
  /** The decoded output rate: for explicit HE-AAC signalling, the SBR extension rate. */
  readonly sampleRate: number
  /** From channelConfiguration (7 means 7.1, i.e. 8 channels); 0 means "defined in a program config element". */
  readonly channels: number
}

class Bits {
  private readonly bytes: Uint8Array
  private bit = 0
  constructor(bytes: Uint8Array) {
    this.bytes = bytes
  }
  get remaining(): number {
    return this.bytes.length * 8 - this.bit
  }
  read(n: number): number {
    let value = 0
    for (let i = 0; i < n; i++) {
      const byte = this.bytes[this.bit >> 3]
      value = value * 2 + ((byte >> (7 - (this.bit & 7))) & 1)
      this.bit++
    }
    return value
  }
}

const readObjectType = (bits: Bits): number => {
  const type = bits.read(5)
  return type === 31 ? 32 + bits.read(6) : type
}

const readFrequency = (bits: Bits): number | undefined => {
  const index = bits.read(4)
  if (index === EXPLICIT_FREQUENCY) return bits.remaining >= 24 ? bits.read(24) : undefined
  return SAMPLING_FREQUENCIES[index]
}

/** Parses the AudioSpecificConfig head; undefined if it is too short or names a reserved frequency index. */
export const parseAudioSpecificConfig = (asc: Uint8Array): AudioSpecificConfigInfo | undefined => {
  const bits = new Bits(asc)
  if (bits.remaining < 16) return undefined
  const audioObjectType = readObjectType(bits)
  if (bits.remaining < 4) return undefined
  let sampleRate = readFrequency(bits)
  if (sampleRate === undefined || bits.remaining < 4) return undefined
  const channelConfiguration = bits.read(4)
  if ((audioObjectType === SBR || audioObjectType === PS) && bits.remaining >= 4) {
    const extensionRate = readFrequency(bits)
    if (extensionRate !== undefined) sampleRate = extensionRate
  }
  return { audioObjectType, sampleRate, channels: channelConfiguration === 7 ? 8 : channelConfiguration }
}
