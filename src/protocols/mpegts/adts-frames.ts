/**
 * AAC in MPEG-TS (stream_type 0x0F, ISO/IEC 13818-1 2.4.4.9): PES payloads hold ADTS frames (ISO/IEC 13818-7 6.2).
 * Splits them into the core's raw access units, finding the ADTS sync word again after garbage, and keeps the
 * AudioSpecificConfig the headers imply. A frame cut by the PES boundary is finished by the next PES.
 */
import type { AudioTrack } from "../../media/frame.ts"
import { adtsAudioSpecificConfig, parseAdtsHeader } from "../../media/aac-adts.ts"

/** Samples per AAC access unit (ISO/IEC 14496-3 4.5.1.1: frameLengthFlag 0, as ADTS carries it). */
export const AAC_SAMPLES_PER_FRAME = 1024

export interface AdtsFrame {
  /** A track to declare before this frame: the first one, or one whose config changed. */
  readonly track: AudioTrack | undefined
  /** The raw access unit, without its ADTS header. */
  readonly data: Uint8Array
  readonly sampleRate: number
}

export interface AdtsRun {
  readonly frames: ReadonlyArray<AdtsFrame>
  /** Whether the first frame began in the previous PES, so this PES's PTS belongs to the second one. */
  readonly carried: boolean
}

/** One audio elementary stream's state: a frame cut at the end of the last PES, and the declared config. */
export class AdtsFrames {
  private carry: Uint8Array | undefined
  private declared: AudioTrack | undefined
  /** Bytes skipped because no ADTS header started there. */
  garbageBytes = 0
  /** Runs of such bytes. */
  garbageRuns = 0

  /** Forgets a frame cut at the end of the last PES (after packet loss). */
  dropCarry(): void {
    this.carry = undefined
  }

  push(payload: Uint8Array): AdtsRun {
    const carriedBytes = this.carry?.length ?? 0
    const data = this.carry === undefined ? payload : concat(this.carry, payload)
    this.carry = undefined
    const frames: Array<AdtsFrame> = []
    let firstAt = -1
    let at = 0
    while (at < data.length) {
      const header = parseAdtsHeader(data, at)
      if (header === undefined) {
        if (at + 7 > data.length && data[at] === 0xff) break // A header cut by the PES boundary.
        const next = nextSync(data, at + 1)
        this.garbageBytes += next - at
        this.garbageRuns++
        at = next
        continue
      }
      if (at + header.frameLength > data.length) break
      const config = adtsAudioSpecificConfig(header)
      let track: AudioTrack | undefined
      if (this.declared === undefined || !sameBytes(this.declared.config, config)) {
        track = this.declared = {
          kind: "audio",
          codec: "AAC",
          timescale: header.sampleRate,
          sampleRate: header.sampleRate,
          channels: header.channels,
          config
        }
      }
      if (firstAt < 0) firstAt = at
      frames.push({
        track,
        data: data.subarray(at + header.headerLength, at + header.frameLength),
        sampleRate: header.sampleRate
      })
      at += header.frameLength
    }
    if (at < data.length) this.carry = data.slice(at)
    return { frames, carried: firstAt >= 0 && firstAt < carriedBytes }
  }
}

/** The next offset where 12 sync bits (0xFFF) could start an ADTS header, or the end. */
const nextSync = (data: Uint8Array, from: number): number => {
  let at = from
  while (at < data.length) {
    at = data.indexOf(0xff, at)
    if (at < 0) return data.length
    if (at + 1 >= data.length || (data[at + 1]! & 0xf0) === 0xf0) return at
    at++
  }
  return data.length
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((byte, i) => byte === b[i])

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}
