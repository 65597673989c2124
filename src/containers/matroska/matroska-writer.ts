/**
 * One WebM file being recorded through mediabunny's Matroska muxer (MKV has its own writer, mkv/). `push` stays
 * synchronous: frames are rebased to the file's start, held back one frame per track (so each packet's duration is the gap to the next),
 * and queued on a PacketPump that feeds mediabunny in order. The muxer starts lazily, once every track has
 * sent a frame (or after START_WINDOW_SECONDS without one, leaving the silent tracks out), because mediabunny
 * interleaves by timestamp and would otherwise buffer everything while waiting for a silent track.
 */
import { Effect } from "effect"
import {
  EncodedAudioPacketSource,
  EncodedPacket,
  EncodedVideoPacketSource,
  Output,
  StreamTarget,
  type StreamTargetChunk
} from "mediabunny"
import type { Frame, Track } from "../../media/frame.ts"
import { ContainerWriteError, type ContainerWriter, type FinalizedFile } from "../../pipelines/container-format.ts"
import { ClusterLimits, type ClusterLimitOptions } from "./cluster-limits.ts"
import { codecFrameSeconds } from "./frame-duration.ts"
import { LiveSegmentHeader } from "./live-segment-header.ts"
import { matroskaOutputFormat } from "./matroska-output-format.ts"
import type { MatroskaKind } from "./matroska-codecs.ts"
import { planMatroskaTrack, type TrackPlan } from "./matroska-tracks.ts"
import { PacketPump } from "./packet-pump.ts"
import { type PositionedFile, toWriteError } from "./positioned-file.ts"

/** Media time after the first frame within which every track is expected to have sent something. */
const START_WINDOW_SECONDS = 3
/** A track this far (in media time) behind the others is closed, so the muxer's interleaving never waits on it. */
const STALL_SECONDS = 10
/** Frame bytes waiting for the muxer beyond which frames are refused ("Backlog"): the disk cannot keep up. */
export const BACKLOG_LIMIT_BYTES = 32 * 1024 * 1024
/** Duration of a video frame when nothing better is known (a single frame). */
const FALLBACK_VIDEO_SECONDS = 1 / 30

type Source = EncodedVideoPacketSource | EncodedAudioPacketSource

interface QueuedPacket {
  readonly bytes: number
  readonly trackIndex: number
  /** Undefined to close the track's source. */
  readonly frame: Frame | undefined
  readonly seconds: number
  readonly duration: number
}

export class MatroskaWriter implements ContainerWriter {
  private readonly kind: MatroskaKind
  private readonly tracks: ReadonlyArray<Track>
  private readonly file: PositionedFile
  private readonly hasVideo: boolean
  private readonly header = new LiveSegmentHeader()
  private readonly limits: ClusterLimits
  private readonly output: Output
  private readonly pump: PacketPump<QueuedPacket>
  private readonly sources: Array<Source | undefined>
  private readonly plans: Array<TrackPlan | undefined>
  private readonly configured: Array<boolean>
  private readonly held: Array<Frame | undefined>
  private readonly firstData: Array<Uint8Array | undefined>
  private readonly lastDts: Array<number | undefined>
  private readonly lastDelta: Array<number | undefined>
  private readonly lastSeconds: Array<number>
  /** Tracks whose frames are ignored: left out at start, or closed after stalling. */
  private readonly dropped: Array<boolean>
  private origin: number | undefined
  private latestSeconds = 0
  private started = false
  /** Whether the muxer got a video track: then only video key frames may begin a cluster. */
  private videoStarted = false
  private state: "recording" | "finalizing" | "closed" = "recording"
  private accepted = 0
  private endSeconds = 0
  private startError: ContainerWriteError | undefined

  constructor(options: {
    readonly kind: MatroskaKind
    readonly tracks: ReadonlyArray<Track>
    readonly file: PositionedFile
    readonly limits: ClusterLimitOptions
    readonly creationTime: Date
  }) {
    this.kind = options.kind
    this.tracks = options.tracks
    this.file = options.file
    this.limits = new ClusterLimits(options.limits)
    const n = this.tracks.length
    this.hasVideo = this.tracks.some((track) => track.kind === "video")
    this.sources = new Array(n).fill(undefined)
    this.plans = new Array(n).fill(undefined)
    this.configured = new Array(n).fill(false)
    this.held = new Array(n).fill(undefined)
    this.firstData = new Array(n).fill(undefined)
    this.lastDts = new Array(n).fill(undefined)
    this.lastDelta = new Array(n).fill(undefined)
    this.lastSeconds = new Array(n).fill(0)
    this.dropped = new Array(n).fill(false)
    const header = this.header
    const limits = this.limits
    const file = this.file
    const format = matroskaOutputFormat(this.kind, {
      onEbmlHeader: header.onEbmlHeader,
      get minimumClusterDuration() {
        return limits.minimumClusterDuration
      }
    })
    const sink = new WritableStream<StreamTargetChunk>({
      write: (chunk) => {
        header.patch(chunk.data, chunk.position)
        return file.write(chunk.data, chunk.position)
      }
    })
    this.output = new Output({ format, target: new StreamTarget(sink, { chunked: false }) })
    this.output.setMetadataTags({ date: options.creationTime })
    this.pump = new PacketPump((item) => this.feed(item))
  }

  readonly push = (trackIndex: number, frame: Frame): ContainerWriteError | undefined => {
    const failure = this.failure()
    if (failure !== undefined) return failure
    if (this.state !== "recording") return new ContainerWriteError("the file is being finalized", "Closed")
    const track = this.tracks[trackIndex]
    if (track === undefined || track.kind !== frame.kind) {
      return new ContainerWriteError(`no ${frame.kind} track ${trackIndex}`, "InvalidTrack")
    }
    if (this.dropped[trackIndex]) return undefined
    if (this.origin === undefined) {
      // The file starts with the first video key frame (or the first frame of an audio-only stream).
      if (this.hasVideo && !(frame.kind === "video" && frame.keyframe)) return undefined
      this.origin = frame.dts / track.timescale
    }
    if (this.firstData[trackIndex] === undefined && frame.kind === "video" && !frame.keyframe) return undefined
    const presented = frame.pts / track.timescale - this.origin
    // Audio sent before the first video key frame but arriving after it would start before the file does.
    if (presented < 0) return undefined
    const lastDts = this.lastDts[trackIndex]
    if (lastDts !== undefined && frame.dts < lastDts) {
      const message = `${track.codec} decode time went back from ${lastDts} to ${frame.dts}`
      return new ContainerWriteError(message, "Timestamps")
    }
    if (this.pump.queuedBytes > BACKLOG_LIMIT_BYTES) {
      return new ContainerWriteError(`the muxer is ${this.pump.queuedBytes} bytes behind`, "Backlog")
    }
    const seconds = frame.dts / track.timescale - this.origin
    this.firstData[trackIndex] ??= frame.data
    this.lastDts[trackIndex] = frame.dts
    this.lastSeconds[trackIndex] = seconds
    if (seconds > this.latestSeconds) this.latestSeconds = seconds
    const held = this.held[trackIndex]
    this.held[trackIndex] = frame
    if (held !== undefined) {
      const gap = (frame.dts - held.dts) / track.timescale
      if (gap > 0) this.lastDelta[trackIndex] = gap
      this.enqueue(trackIndex, held, gap > 0 ? gap : this.fallbackSeconds(trackIndex, held))
    }
    if (!this.started) this.maybeStart(false)
    else this.closeStalledTracks()
    return undefined
  }

  readonly bytesWritten = (): number => this.accepted

  readonly finalize = (finalPath: string): Effect.Effect<FinalizedFile, ContainerWriteError> =>
    Effect.suspend(() => {
      if (this.state !== "recording") return Effect.fail(new ContainerWriteError("finalized twice", "Closed"))
      this.state = "finalizing"
      // On failure the descriptor is closed and the file kept; `abort` deletes it.
      return this.complete(finalPath).pipe(Effect.tapError(() => this.file.release()))
    })

  private complete(finalPath: string): Effect.Effect<FinalizedFile, ContainerWriteError> {
    return Effect.gen({ self: this }, function*() {
      this.flushHeld()
      if (!this.started) this.maybeStart(true)
      yield* Effect.promise(() => this.pump.drained())
      const failure = this.failure()
      if (failure !== undefined) return yield* Effect.fail(failure)
      if (!this.started) return yield* Effect.fail(new ContainerWriteError("no frame was recorded", "Empty"))
      this.header.finishing()
      yield* Effect.tryPromise({ try: () => this.output.finalize(), catch: (cause) => toWriteError("finalize", cause) })
      const bytes = yield* this.file.commit(finalPath)
      this.state = "closed"
      return { path: finalPath, bytes, durationSeconds: this.endSeconds }
    }).pipe(Effect.withSpan("MatroskaWriter.finalize"))
  }

  readonly abort = (): Effect.Effect<void> =>
    Effect.gen({ self: this }, function*() {
      this.state = "closed"
      this.pump.fail(new ContainerWriteError("aborted", "Closed"))
      if (this.started) yield* Effect.promise(() => this.output.cancel().catch(() => undefined))
      yield* this.file.discard()
    })

  /** Settles once every accepted frame reached the muxer and the file (for tests and graceful shutdown). */
  readonly settled = (): Promise<void> => this.pump.drained().then(() => this.file.drained())

  /** Clusters closed by the cluster limits so far. */
  get clusterCuts(): number {
    return this.limits.cuts
  }

  private failure(): ContainerWriteError | undefined {
    if (this.startError !== undefined) return this.startError
    if (this.pump.hasFailed) return toWriteError("mux", this.pump.error)
    return this.file.error
  }

  private fallbackSeconds(trackIndex: number, frame: Frame): number {
    const track = this.tracks[trackIndex]!
    return codecFrameSeconds(track, frame.data) ?? this.lastDelta[trackIndex] ?? FALLBACK_VIDEO_SECONDS
  }

  private enqueue(trackIndex: number, frame: Frame, duration: number): void {
    const track = this.tracks[trackIndex]!
    const seconds = frame.pts / track.timescale - this.origin!
    const bytes = frame.data.byteLength
    this.accepted += bytes
    if (seconds + duration > this.endSeconds) this.endSeconds = seconds + duration
    this.pump.push({ bytes, trackIndex, frame, seconds, duration })
  }

  private flushHeld(): void {
    for (let i = 0; i < this.held.length; i++) {
      const frame = this.held[i]
      if (frame === undefined) continue
      this.held[i] = undefined
      this.enqueue(i, frame, this.fallbackSeconds(i, frame))
    }
  }

  /** Starts the muxer with the tracks that sent a frame, once all did or the start window is over. */
  private maybeStart(force: boolean): void {
    const seen = this.firstData.map((data, i) => data !== undefined && !this.dropped[i])
    if (!seen.some(Boolean)) return
    if (!force && !seen.every(Boolean) && this.latestSeconds < START_WINDOW_SECONDS) return
    for (let i = 0; i < this.tracks.length; i++) {
      if (!seen[i]) {
        this.dropped[i] = true
        continue
      }
      const plan = planMatroskaTrack(this.tracks[i]!, this.firstData[i]!)
      if (plan instanceof ContainerWriteError) {
        this.startError = plan
        return
      }
      this.plans[i] = plan
      const source = plan.kind === "video"
        ? new EncodedVideoPacketSource(plan.codec)
        : new EncodedAudioPacketSource(plan.codec)
      this.sources[i] = source
      if (source instanceof EncodedVideoPacketSource) {
        this.output.addVideoTrack(source)
        this.videoStarted = true
      } else this.output.addAudioTrack(source)
    }
    this.started = true
    this.output.start().then(() => this.pump.resume(), (cause: unknown) => this.pump.fail(cause))
  }

  /** Closes the source of any track that fell STALL_SECONDS behind; its later frames are ignored. */
  private closeStalledTracks(): void {
    for (let i = 0; i < this.tracks.length; i++) {
      if (this.dropped[i] || this.sources[i] === undefined) continue
      if (this.latestSeconds - this.lastSeconds[i]! < STALL_SECONDS) continue
      this.dropped[i] = true
      const held = this.held[i]
      this.held[i] = undefined
      if (held !== undefined) this.enqueue(i, held, this.fallbackSeconds(i, held))
      this.pump.push({ bytes: 0, trackIndex: i, frame: undefined, seconds: 0, duration: 0 })
    }
  }

  /** Hands one queued packet (or a close) to mediabunny. */
  private feed(item: QueuedPacket): Promise<void> | void {
    const source = this.sources[item.trackIndex]!
    const plan = this.plans[item.trackIndex]!
    if (item.frame === undefined) return source.close()
    const keyframe = plan.kind === "audio" || item.frame.keyframe
    const data = plan.packetData(item.frame.data)
    this.limits.fed(item.seconds, data.byteLength, plan.kind === "video" ? keyframe : !this.videoStarted)
    const packet = new EncodedPacket(data, keyframe ? "key" : "delta", item.seconds, item.duration)
    if (this.configured[item.trackIndex]) return source.add(packet)
    this.configured[item.trackIndex] = true
    return plan.kind === "video"
      ? (source as EncodedVideoPacketSource).add(packet, { decoderConfig: plan.decoderConfig })
      : (source as EncodedAudioPacketSource).add(packet, { decoderConfig: plan.decoderConfig })
  }
}
