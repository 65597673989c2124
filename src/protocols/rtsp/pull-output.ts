/**
 * What one pull publishes over its whole life, across reconnects: one publication, tracks declared again only when
 * their configuration changes, and a dts per track that never goes back. Each connection is a segment: its RTP
 * clocks are anchored by RTP-Info (the same instant for every stream) or by arrival time, and the segment starts
 * after the last published dts plus the wall-clock gap. Counters and problems feed `RtspPulls.list` and the log.
 */
import type { Track, TrackKind } from "../../media/frame.ts"
import type { Publication } from "../../media/publisher.ts"
import type { RtpFrame } from "../rtp/depacketizer.ts"
import type { ReorderOptions } from "../rtp/reorder-buffer.ts"
import { rtpDistance, RtpTimeline } from "../rtp/rtp-timeline.ts"
import { MediaReceiver, type ReceiverSink } from "./media-receiver.ts"
import type { PullMedia } from "./pull-media.ts"

/** Frames completed between the PLAY request and its answer wait for the RTP-Info; beyond this many, dropped. */
const MAX_HELD_FRAMES = 512
/** How far a segment's first frame may be from its RTP-Info rtptime before the anchor is distrusted. */
const MAX_ANCHOR_DISTANCE_SECONDS = 10

/** A track kind's state for the whole pull. */
interface Lane {
  readonly timeline: RtpTimeline
  declared: Track | undefined
}

/** A receiver's state within one segment. */
interface Member {
  readonly receiver: MediaReceiver
  readonly lane: Lane
  /** The RTP-Info rtptime of this stream, once PLAY answered. */
  anchor: number | undefined
  /** The receiver's trackVersion when its track was last checked against the lane. */
  checkedVersion: number | undefined
  awaitingKeyframe: boolean
}

interface Segment {
  readonly members: Map<MediaReceiver, Member>
  readonly held: Array<{ readonly member: Member; readonly frame: RtpFrame }>
  played: boolean
  playAt: number
  /** Seconds on the publication's timeline at which this segment starts. */
  epoch: number
}

export const sameTrack = (a: Track | undefined, b: Track): boolean =>
  a !== undefined && a.kind === b.kind && a.codec === b.codec && a.timescale === b.timescale &&
  a.config.length === b.config.length && a.config.every((byte, i) => byte === b.config[i])

export class PullOutput {
  packets = 0
  lost = 0
  errors = 0
  /** Wall-clock milliseconds of the latest RTP packet, for the "no RTP" watchdog. */
  lastPacketAt = 0
  readonly #publication: Publication
  readonly #lanes = new Map<TrackKind, Lane>()
  readonly #sink: ReceiverSink
  #segment: Segment | undefined
  #lastFrameAt: number | undefined
  #problems = 0
  #lastProblem = ""

  constructor(publication: Publication) {
    this.#publication = publication
    this.#sink = {
      packet: (nowMs) => {
        this.packets++
        this.lastPacketAt = nowMs
      },
      lost: (count) => this.lost += count,
      problem: (problem) => {
        this.errors++
        this.#problems++
        this.#lastProblem = problem
      },
      frames: (receiver, frames, nowMs) => this.#frames(receiver, frames, nowMs)
    }
  }

  get mediaSessionId(): string {
    return this.#publication.mediaSessionId
  }

  /** A new connection set up `media`: its receivers, with every track already known declared. */
  beginSegment(media: ReadonlyArray<PullMedia>, nowMs: number, reorder?: ReorderOptions): Array<MediaReceiver> {
    this.endSegment()
    const members = new Map<MediaReceiver, Member>()
    for (const item of media) {
      const receiver = new MediaReceiver(item, this.#sink, reorder)
      let lane = this.#lanes.get(item.kind)
      if (lane === undefined) {
        lane = { timeline: new RtpTimeline(), declared: undefined }
        this.#lanes.set(item.kind, lane)
      }
      const member = { receiver, lane, anchor: undefined, checkedVersion: undefined, awaitingKeyframe: true }
      members.set(receiver, member)
      this.#declare(member)
    }
    this.#segment = { members, held: [], played: false, playAt: nowMs, epoch: 0 }
    this.lastPacketAt = nowMs
    return [...members.keys()]
  }

  /** PLAY answered: `anchors` are the RTP-Info rtptimes of the receivers (undefined: anchor by arrival time). */
  play(anchors: ReadonlyMap<MediaReceiver, number | undefined>, nowMs: number): void {
    const segment = this.#segment
    if (segment === undefined) return
    let end: number | undefined
    for (const lane of this.#lanes.values()) {
      const last = lane.timeline.lastDts
      if (last !== undefined && lane.declared !== undefined) {
        end = Math.max(end ?? 0, last / lane.declared.timescale)
      }
    }
    segment.epoch = end === undefined ? 0 : end + Math.max(0, nowMs - (this.#lastFrameAt ?? nowMs)) / 1000
    segment.playAt = nowMs
    segment.played = true
    for (const [receiver, anchor] of anchors) {
      const member = segment.members.get(receiver)
      if (member !== undefined) member.anchor = anchor
    }
    this.lastPacketAt = nowMs
    for (const { member, frame } of segment.held.splice(0)) this.#publish(segment, member, frame, nowMs)
  }

  /** The connection ended: its receivers give up what they hold, and timelines wait for the next segment. */
  endSegment(): void {
    const segment = this.#segment
    if (segment === undefined) return
    this.#segment = undefined
    for (const member of segment.members.values()) member.receiver.close()
    for (const lane of this.#lanes.values()) lane.timeline.stop()
  }

  /** Counts a problem found outside the receivers (e.g. a datagram from a stranger). */
  problem(problem: string): void {
    this.#sink.problem(problem)
  }

  /** Malformed packets since the last call, and the latest reason; for one rate-limited log line. */
  takeProblems(): { readonly count: number; readonly last: string } | undefined {
    if (this.#problems === 0) return undefined
    const report = { count: this.#problems, last: this.#lastProblem }
    this.#problems = 0
    return report
  }

  #frames(receiver: MediaReceiver, frames: ReadonlyArray<RtpFrame>, nowMs: number): void {
    const segment = this.#segment
    const member = segment?.members.get(receiver)
    if (segment === undefined || member === undefined) return
    for (const frame of frames) {
      if (segment.played) this.#publish(segment, member, frame, nowMs)
      else if (segment.held.length < MAX_HELD_FRAMES) segment.held.push({ member, frame })
    }
  }

  /** Declares the member's track if it is known and differs from what its lane declared last. */
  #declare(member: Member): void {
    const version = member.receiver.trackVersion
    if (member.checkedVersion === version) return
    const track = member.receiver.track()
    if (track === undefined) return
    member.checkedVersion = version
    if (sameTrack(member.lane.declared, track)) return
    member.lane.declared = track
    this.#publication.track(track)
  }

  #publish(segment: Segment, member: Member, frame: RtpFrame, nowMs: number): void {
    this.#declare(member)
    // Until every media has its track, no frame goes out: a recording must not start without the video.
    for (const other of segment.members.values()) if (other.checkedVersion === undefined) return
    const track = member.lane.declared!
    if (member.awaitingKeyframe) {
      // A connection may begin mid-GOP: video before its first IDR cannot be decoded.
      if (track.kind === "video" && !frame.keyframe) return
      member.awaitingKeyframe = false
    }
    const timeline = member.lane.timeline
    if (!timeline.started) {
      // An RTP-Info that disagrees with the packets by more than a few seconds is wrong: fall back to arrival time.
      const anchored = member.anchor !== undefined &&
        Math.abs(rtpDistance(member.anchor, frame.timestamp)) <= MAX_ANCHOR_DISTANCE_SECONDS * track.timescale
      if (!anchored) member.anchor = undefined
      const offset = anchored ? 0 : Math.max(0, nowMs - segment.playAt) / 1000
      let base = Math.ceil((segment.epoch + offset) * track.timescale)
      if (timeline.lastDts !== undefined) base = Math.max(base, timeline.lastDts + 1)
      timeline.start(member.anchor, base)
    }
    const dts = timeline.toDts(frame.timestamp)
    this.#lastFrameAt = nowMs
    this.#publication.frame({ kind: track.kind, dts, pts: dts, keyframe: frame.keyframe, data: frame.data })
  }
}
