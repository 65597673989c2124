/**
 * Puts the tracks of one WebRTC publication on a shared timeline and hands them to the publication. RTP clocks of
 * different streams start at random values (RFC 3550 5.1); only RTCP sender reports (RFC 3550 6.4.1) tie each to
 * the sender's wall clock. So the first frames are held until every track has a frame, its decoder configuration
 * and a sender report, or until `holdMs` passes; then every track's start is placed by its sender report, or, when
 * a report is missing, by the arrival time of its first frame (off by the difference in capture-to-arrival delay
 * between the tracks, typically tens of milliseconds). Tracks are declared before their first frame.
 */
import type { Frame, Track, TrackKind } from "../../media/frame.ts"

export type Alignment = "sender-reports" | "arrival"

export interface AvSyncSink {
  readonly track: (track: Track) => void
  readonly frame: (frame: Frame) => void
}

export interface AvSyncOptions {
  /** The kinds the peer negotiated to send; the hold waits for each of them. */
  readonly kinds: ReadonlyArray<TrackKind>
  readonly sink: AvSyncSink
  /** The longest the first frames are held waiting for every track and sender report. Default 4000 ms. */
  readonly holdMs?: number
  /** Held frames beyond which the hold ends anyway. Default 1000. */
  readonly maxHeldFrames?: number
}

interface Lane {
  declared: Track | undefined
  firstTicks: number | undefined
  firstArrivalMs: number
  report: { readonly ntpSeconds: number; readonly ticks: number } | undefined
  /** Ticks of the lane's first frame on the shared timeline; set when the lane is placed. */
  offset: number | undefined
  lastDts: number
}

interface HeldFrame {
  readonly kind: TrackKind
  readonly track: Track
  readonly ticks: number
  readonly keyframe: boolean
  readonly data: Uint8Array
}

export class AvSync {
  readonly kinds: ReadonlyArray<TrackKind>
  readonly holdMs: number
  readonly maxHeldFrames: number
  /** How the tracks were placed, once the hold is over. */
  alignment: Alignment | undefined
  /** Frames whose time would have gone back and were held at the last time instead. */
  clamped = 0
  readonly #sink: AvSyncSink
  readonly #lanes = new Map<TrackKind, Lane>()
  #held: Array<HeldFrame> = []
  #startedAtMs: number | undefined
  /** Wall-clock milliseconds at which the shared timeline is 0, as seen through arrival times. */
  #originArrivalMs = 0

  constructor(options: AvSyncOptions) {
    this.kinds = options.kinds
    this.#sink = options.sink
    this.holdMs = options.holdMs ?? 4000
    this.maxHeldFrames = options.maxHeldFrames ?? 1000
  }

  get released(): boolean {
    return this.alignment !== undefined
  }

  #lane(kind: TrackKind): Lane {
    let lane = this.#lanes.get(kind)
    if (lane === undefined) {
      lane = {
        declared: undefined,
        firstTicks: undefined,
        firstArrivalMs: 0,
        report: undefined,
        offset: undefined,
        lastDts: 0
      }
      this.#lanes.set(kind, lane)
    }
    return lane
  }

  /** A sender report of a track: its wall clock (NTP seconds) at `ticks` on the track's RTP timeline. */
  senderReport(kind: TrackKind, ntpSeconds: number, ticks: number, arrivalMs: number): void {
    this.#lane(kind).report = { ntpSeconds, ticks }
    this.tick(arrivalMs)
  }

  /** One frame of a track whose current decoder configuration is `track`; `ticks` is its RTP timeline position. */
  frame(kind: TrackKind, track: Track, ticks: number, keyframe: boolean, data: Uint8Array, arrivalMs: number): void {
    const lane = this.#lane(kind)
    if (lane.firstTicks === undefined) {
      lane.firstTicks = ticks
      lane.firstArrivalMs = arrivalMs
      this.#startedAtMs ??= arrivalMs
    }
    if (this.alignment === undefined) {
      this.#held.push({ kind, track, ticks, keyframe, data })
      this.tick(arrivalMs)
      return
    }
    if (lane.offset === undefined) this.#placeLate(lane, track.timescale)
    this.#emit(lane, kind, track, ticks, keyframe, data)
  }

  /** Ends the hold when its time is up; called with every packet and periodically. */
  tick(nowMs: number): void {
    if (this.alignment !== undefined || this.#startedAtMs === undefined) return
    const complete = this.kinds.every((kind) => {
      const lane = this.#lanes.get(kind)
      return lane?.firstTicks !== undefined && lane.report !== undefined
    })
    if (complete || nowMs - this.#startedAtMs >= this.holdMs || this.#held.length >= this.maxHeldFrames) this.#release()
  }

  /** Releases the held frames now, however far the hold got (the publication is ending). */
  flush(): void {
    if (this.alignment === undefined && this.#startedAtMs !== undefined) this.#release()
  }

  #release(): void {
    const held = this.#held
    this.#held = []
    const timescales = new Map<TrackKind, number>()
    for (const frame of held) timescales.set(frame.kind, frame.track.timescale)
    const started = Array.from(timescales.keys(), (kind) => ({ kind, lane: this.#lane(kind) }))
    const bySenderReports = started.every(({ lane }) => lane.report !== undefined)
    this.alignment = bySenderReports ? "sender-reports" : "arrival"
    // Each lane's first frame in seconds on one clock: the sender's (reports), or ours (arrival).
    const starts = started.map(({ kind, lane }) => {
      const rate = timescales.get(kind)!
      const report = lane.report
      return bySenderReports && report !== undefined
        ? report.ntpSeconds + (lane.firstTicks! - report.ticks) / rate
        : lane.firstArrivalMs / 1000
    })
    const origin = Math.min(...starts)
    started.forEach(({ kind, lane }, i) => {
      lane.offset = Math.round((starts[i]! - origin) * timescales.get(kind)!)
    })
    this.#originArrivalMs = Math.min(
      ...started.map(({ kind, lane }) => lane.firstArrivalMs - (lane.offset! / timescales.get(kind)!) * 1000)
    )
    for (const { kind, track, ticks, keyframe, data } of held) {
      this.#emit(this.#lane(kind), kind, track, ticks, keyframe, data)
    }
  }

  /** A track that began after the hold: placed by the arrival of its first frame. */
  #placeLate(lane: Lane, timescale: number): void {
    lane.offset = Math.max(0, Math.round(((lane.firstArrivalMs - this.#originArrivalMs) / 1000) * timescale))
  }

  #emit(lane: Lane, kind: TrackKind, track: Track, ticks: number, keyframe: boolean, data: Uint8Array): void {
    if (lane.declared !== track) {
      lane.declared = track
      this.#sink.track(track)
    }
    let dts = lane.offset! + (ticks - lane.firstTicks!)
    if (dts < lane.lastDts) {
      dts = lane.lastDts
      this.clamped++
    }
    lane.lastDts = dts
    this.#sink.frame({ kind, dts, pts: dts, keyframe, data })
  }
}
