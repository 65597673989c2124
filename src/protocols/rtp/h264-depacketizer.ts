/**
 * H.264 over RTP (RFC 6184) to the core's AVCC access units: single NAL unit packets (5.6), STAP-A (5.7.1) and
 * FU-A (5.8), i.e. packetization-mode 0 and 1. An access unit ends at the marker bit or when the timestamp changes.
 * SPS and PPS come from sprop-parameter-sets (8.1) or in-band; each change bumps `parameterVersion` so the caller
 * can declare the track again.
 *
 *  STAP-A: [F|NRI|24] ( [size 16] [NAL] )+          FU-A: [F|NRI|28] [S|E|R|type] [fragment]
 */
import {
  makeAvcC,
  NAL_AUD,
  NAL_IDR,
  NAL_PPS,
  NAL_SPS,
  nalType,
  spsDimensions,
  toAvcc
} from "../../media/h264-annexb.ts"
import { concatBytes } from "../../media/bytes.ts"
import { type Depacketizer, followsInSequence, type RtpFrame } from "./depacketizer.ts"
import type { RtpPacket } from "./rtp-packet.ts"

const STAP_A = 24
const FU_A = 28
const NAL_FILLER = 12
const FU_START = 0x80
const FU_END = 0x40

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array): boolean =>
  a !== undefined && a.length === b.length && a.every((byte, i) => byte === b[i])

export interface H264Config {
  /** The AVCDecoderConfigurationRecord built from the current SPS and PPS. */
  readonly avcC: Uint8Array
  readonly width: number
  readonly height: number
}

export class H264Depacketizer implements Depacketizer {
  malformed = 0
  dropped = 0
  lastProblem: string | undefined
  /** Bumped whenever the SPS or PPS changes. */
  parameterVersion = 0
  #sps: Uint8Array | undefined
  #pps: Uint8Array | undefined
  #previousSeq: number | undefined
  /** NAL units of the access unit being collected, and its timestamp. */
  #nals: Array<Uint8Array> = []
  #timestamp = 0
  #damaged = false
  /** Fragments of the FU-A NAL unit being collected (its rebuilt header first). */
  #fragments: Array<Uint8Array> | undefined
  /** After a loss, packets of this timestamp are skipped: the access unit may have lost its start. */
  #skipping: number | undefined

  /** `parameterSets`: the NAL units of sprop-parameter-sets (SPS and PPS, in any order). */
  constructor(parameterSets: ReadonlyArray<Uint8Array> = []) {
    for (const nal of parameterSets) this.#parameterSet(nal)
  }

  /** The decoder configuration, once an SPS and a PPS are known. */
  get config(): H264Config | undefined {
    if (this.#sps === undefined || this.#pps === undefined) return undefined
    const size = spsDimensions(this.#sps)
    return { avcC: makeAvcC(this.#sps, this.#pps), width: size?.width ?? 0, height: size?.height ?? 0 }
  }

  push(packet: RtpPacket): Array<RtpFrame> {
    const out: Array<RtpFrame> = []
    if (!followsInSequence(this.#previousSeq, packet.sequenceNumber)) {
      if (this.#nals.length > 0 || this.#fragments !== undefined) this.dropped++
      this.#reset()
      this.#skipping = packet.timestamp
    }
    this.#previousSeq = packet.sequenceNumber
    if (this.#skipping !== undefined) {
      if (packet.timestamp === this.#skipping) {
        if (packet.marker) this.#skipping = undefined
        return out
      }
      this.#skipping = undefined
    }
    const collecting = this.#nals.length > 0 || this.#fragments !== undefined || this.#damaged
    if (collecting && packet.timestamp !== this.#timestamp) this.#finish(out)
    this.#timestamp = packet.timestamp
    this.#take(packet.payload)
    if (packet.marker) this.#finish(out)
    return out
  }

  #take(payload: Uint8Array): void {
    if (payload.length === 0) return this.#malformedPacket("empty payload")
    const type = payload[0]! & 0x1f
    if (type >= 1 && type <= 23) {
      if (this.#fragments !== undefined) this.#damage()
      this.#nals.push(payload)
    } else if (type === STAP_A) {
      this.#stapA(payload)
    } else if (type === FU_A) {
      this.#fuA(payload)
    } else {
      this.#malformedPacket(`NAL unit type ${type} (${type === 0 ? "reserved" : "needs packetization-mode 2"})`)
    }
  }

  #stapA(payload: Uint8Array): void {
    const units: Array<Uint8Array> = []
    let offset = 1
    while (offset < payload.length) {
      if (offset + 2 > payload.length) return this.#malformedPacket("STAP-A size field cut short")
      const size = (payload[offset]! << 8) | payload[offset + 1]!
      offset += 2
      if (size === 0 || offset + size > payload.length) {
        return this.#malformedPacket(`STAP-A unit of ${size} bytes does not fit`)
      }
      units.push(payload.subarray(offset, offset + size))
      offset += size
    }
    if (units.length === 0) return this.#malformedPacket("empty STAP-A")
    if (this.#fragments !== undefined) this.#damage()
    this.#nals.push(...units)
  }

  #fuA(payload: Uint8Array): void {
    if (payload.length < 3) return this.#malformedPacket("FU-A shorter than its headers")
    const header = payload[1]!
    if ((header & FU_START) !== 0) {
      if (this.#fragments !== undefined) this.#damage()
      this.#fragments = [Uint8Array.of((payload[0]! & 0xe0) | (header & 0x1f))]
    } else if (this.#fragments === undefined) {
      // A continuation whose start we never saw: the NAL unit is incomplete.
      this.#damaged = true
      return
    }
    this.#fragments.push(payload.subarray(2))
    if ((header & FU_END) !== 0) {
      const fragments = this.#fragments
      this.#fragments = undefined
      // A copy even of a single fragment: the NAL unit outlives the packet's buffer.
      this.#nals.push(fragments.length === 1 ? fragments[0]!.slice() : concatBytes(fragments))
    }
  }

  /** Closes the access unit: emits it unless a packet of it was lost. */
  #finish(out: Array<RtpFrame>): void {
    if (this.#fragments !== undefined) this.#damage()
    const nals = this.#nals
    const damaged = this.#damaged
    this.#reset()
    if (damaged) {
      this.dropped++
      return
    }
    const kept: Array<Uint8Array> = []
    let keyframe = false
    for (const nal of nals) {
      const type = nalType(nal)
      if (type === NAL_AUD || type === NAL_FILLER) continue
      if (type === NAL_SPS || type === NAL_PPS) this.#parameterSet(nal)
      if (type === NAL_IDR) keyframe = true
      kept.push(nal)
    }
    if (kept.length > 0) out.push({ timestamp: this.#timestamp, keyframe, data: toAvcc(kept) })
  }

  #parameterSet(nal: Uint8Array): void {
    const type = nalType(nal)
    if (type === NAL_SPS && !sameBytes(this.#sps, nal)) {
      this.#sps = new Uint8Array(nal)
      this.parameterVersion++
    } else if (type === NAL_PPS && !sameBytes(this.#pps, nal)) {
      this.#pps = new Uint8Array(nal)
      this.parameterVersion++
    }
  }

  #damage(): void {
    this.#fragments = undefined
    this.#damaged = true
  }

  #malformedPacket(problem: string): void {
    this.malformed++
    this.lastProblem = problem
    this.#damaged = true
  }

  #reset(): void {
    this.#nals = []
    this.#fragments = undefined
    this.#damaged = false
  }
}
