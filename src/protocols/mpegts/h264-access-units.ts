/**
 * H.264 in MPEG-TS (stream_type 0x1B, ISO/IEC 13818-1 2.14): each PES carries one access unit as an Annex-B byte
 * stream. Turns it into the core's AVCC access unit and keeps the avcC built from the in-band SPS and PPS.
 */
import type { VideoTrack } from "../../media/frame.ts"
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

export interface H264AccessUnit {
  /** A track to declare before this frame: the first one, or one whose SPS/PPS changed. */
  readonly track: VideoTrack | undefined
  /** The AVCC access unit, without AUD, SPS and PPS (the avcC carries those). */
  readonly data: Uint8Array
  /** Contains an IDR slice. */
  readonly keyframe: boolean
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** One video elementary stream's state: the parameter sets seen and the config last declared. */
export class H264AccessUnits {
  private sps: Uint8Array | undefined
  private pps: Uint8Array | undefined
  private declared: VideoTrack | undefined
  /** Access units dropped because no SPS and PPS had come yet. */
  waitingForConfig = 0
  /** SPS that did not parse (no picture size), so no track could be declared. */
  badSps = 0

  /** The access unit a PES payload holds, or undefined when there is nothing to publish yet. */
  push(payload: Uint8Array): H264AccessUnit | undefined {
    const nals = splitAnnexB(payload)
    const kept: Array<Uint8Array> = []
    let keyframe = false
    let parameterSets = false
    for (const nal of nals) {
      const type = nalType(nal)
      if (type === NAL_SPS) {
        this.sps = nal.slice()
        parameterSets = true
      } else if (type === NAL_PPS) {
        this.pps = nal.slice()
        parameterSets = true
      } else if (type !== NAL_AUD) {
        if (type === NAL_IDR) keyframe = true
        kept.push(nal)
      }
    }
    const track = parameterSets ? this.trackChange() : undefined
    if (this.declared === undefined) {
      if (kept.length > 0) this.waitingForConfig++
      return undefined
    }
    return kept.length === 0 ? undefined : { track, data: toAvcc(kept), keyframe }
  }

  /** The track to declare when the parameter sets now known differ from the declared ones. */
  private trackChange(): VideoTrack | undefined {
    if (this.sps === undefined || this.pps === undefined) return undefined
    const config = makeAvcC(this.sps, this.pps)
    if (this.declared !== undefined && sameBytes(this.declared.config, config)) return undefined
    const size = spsDimensions(this.sps)
    if (size === undefined) {
      this.badSps++
      return undefined
    }
    this.declared = { kind: "video", codec: "H264", timescale: 90_000, width: size.width, height: size.height, config }
    return this.declared
  }
}
