/**
 * Turns depacketized H.264 access units (Annex-B, as werift's depacketizer writes them) into the core's AVCC frames,
 * and keeps the stream's parameter sets: the avcC is built from the in-band SPS and PPS (RFC 6184 8.4: WebRTC
 * senders repeat them before every IDR), and a new one is announced when they change.
 */
import {
  makeAvcC,
  NAL_AUD,
  NAL_IDR,
  NAL_PPS,
  NAL_SPS,
  nalType,
  spsDimensions,
  splitAnnexB,
  toAvcc
} from "../../media/h264-annexb.ts"

export interface H264Config {
  readonly avcC: Uint8Array
  readonly width: number
  readonly height: number
}

export type H264AccessUnit =
  | {
    readonly _tag: "Frame"
    /** AVCC: 4-byte length-prefixed NAL units, without SPS, PPS or access unit delimiters. */
    readonly data: Uint8Array
    readonly keyframe: boolean
    /** Set when this access unit brought parameter sets that differ from the previous ones. */
    readonly config: H264Config | undefined
  }
  /** Nothing decodable yet: no SPS/PPS seen, or no slice in the access unit. */
  | { readonly _tag: "Skip"; readonly reason: string }

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array): boolean =>
  a !== undefined && a.length === b.length && a.every((byte, i) => byte === b[i])

export class H264AccessUnits {
  #sps: Uint8Array | undefined
  #pps: Uint8Array | undefined
  #config: H264Config | undefined

  get config(): H264Config | undefined {
    return this.#config
  }

  /** Converts one access unit; the caller drops frames until the first keyframe after `config` is known. */
  convert(annexB: Uint8Array): H264AccessUnit {
    const kept: Array<Uint8Array> = []
    let keyframe = false
    let changed = false
    for (const nal of splitAnnexB(annexB)) {
      const type = nalType(nal)
      if (type === NAL_SPS) {
        if (!sameBytes(this.#sps, nal)) {
          this.#sps = nal.slice()
          changed = true
        }
      } else if (type === NAL_PPS) {
        if (!sameBytes(this.#pps, nal)) {
          this.#pps = nal.slice()
          changed = true
        }
      } else if (type !== NAL_AUD) {
        if (type === NAL_IDR) keyframe = true
        kept.push(nal)
      }
    }
    let config: H264Config | undefined
    if (changed && this.#sps !== undefined && this.#pps !== undefined) {
      const size = spsDimensions(this.#sps)
      if (size === undefined) return { _tag: "Skip", reason: "an SPS that does not parse" }
      config = { avcC: makeAvcC(this.#sps, this.#pps), width: size.width, height: size.height }
      this.#config = config
    }
    if (this.#config === undefined) return { _tag: "Skip", reason: "no SPS and PPS yet" }
    if (kept.length === 0) return { _tag: "Skip", reason: "an access unit without slices" }
    return { _tag: "Frame", data: toAvcc(kept), keyframe, config }
  }
}
