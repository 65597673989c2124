/**
 * What the transcoder needs to know of an Opus packet without decoding it: how many 48 kHz samples it holds,
 * read from its TOC byte (RFC 6716 3.1 and 3.2), and a packet of digital silence to fill gaps with.
 */

/** Opus always runs on a 48 kHz clock (RFC 7587 4.1: the RTP clock rate is 48000 whatever the audio bandwidth). */
export const OPUS_RATE = 48_000

/**
 * What libopus emits for 20 ms of digital silence: TOC 0xF8 (config 31: CELT-only fullband 20 ms, mono, code 0)
 * followed by a CELT frame with the silence flag set. A mono packet decodes in a stereo stream too (RFC 6716 3.1).
 */
export const OPUS_SILENCE_PACKET = Uint8Array.of(0xf8, 0xff, 0xfe)
export const OPUS_SILENCE_SAMPLES = 960

/** Frame sizes in 48 kHz samples by configuration number (RFC 6716 Table 2): SILK, then Hybrid, then CELT. */
const frameSamples = (config: number): number => {
  if (config < 12) return [480, 960, 1920, 2880][config & 3]!
  if (config < 16) return [480, 960][config & 1]!
  return [120, 240, 480, 960][config & 3]!
}

/**
 * Samples (48 kHz) in the packet, or 0 when it is empty or malformed. Code 0 has one frame, codes 1 and 2 two,
 * code 3 carries its frame count in the low six bits of the second byte (RFC 6716 3.2.5); a packet lasts at most
 * 120 ms.
 */
export const opusPacketSamples = (packet: Uint8Array): number => {
  if (packet.length === 0) return 0
  const toc = packet[0]!
  const code = toc & 0x03
  let frames: number
  if (code === 0) frames = 1
  else if (code !== 3) frames = 2
  else if (packet.length < 2) return 0
  else frames = packet[1]! & 0x3f
  const samples = frames * frameSamples(toc >> 3)
  return samples > 5760 ? 0 : samples
}
