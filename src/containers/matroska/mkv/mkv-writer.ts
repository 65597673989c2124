/**
 * Our own MKV writer, for what mediabunny's Matroska muxer cannot do: codecs without a Matroska codec id of their
 * own (G.711, G.722, kept as A_MS/ACM instead of being expanded or refused) and tracks added while recording (a
 * multi-recording, where streams join and leave). `push` is synchronous and frames are written in arrival order.
 *
 * Layout: EBML header; a Segment of unknown size while recording; then regions reserved at fixed places for the
 * SeekHead, Info and Tracks, each an element padded with a Void, so each can be rewritten in place (Tracks each
 * time a track gets its first frame, the rest at finalize); then Clusters, each written whole once closed (an
 * interrupted recording therefore plays up to its last closed Cluster); at finalize Cues, a DURATION tag per
 * track, the Duration, the SeekHead's Cues and Tags entries and the Segment's size.
 *
 * Clusters close by webm_cluster_duration_limit / webm_cluster_size_limit at the next video key frame (any frame
 * when the file has no video), so each starts with a key frame; also whenever a block's timestamp would leave the
 * signed 16-bit range relative to its Cluster (32.767 s). Every video key frame gets a CuePoint (like mkvmerge
 * writes), so a seek lands on the key frame at or before its target rather than at a Cluster's start.
 */
import { Effect } from "effect"
import type { Frame, Track } from "../../../media/frame.ts"
import { ContainerWriteError, type ContainerWriter, type FinalizedFile } from "../../../pipelines/container-format.ts"
import type { ClusterLimitOptions } from "../cluster-limits.ts"
import { codecFrameSeconds } from "../frame-duration.ts"
import type { PositionedFile } from "../positioned-file.ts"
import { concat, ID, idBytes, master, padded, sizeBytes, string, uint, UNKNOWN_SIZE } from "./ebml.ts"
import {
  cuePoint,
  dateUtcNanoseconds,
  durationTags,
  info,
  INFO_REGION,
  SEEK_HEAD_REGION,
  seekHead
} from "./mkv-layout.ts"
import { checkMkvTrack, trackEntry } from "./track-entry.ts"

/** Bytes waiting for the disk beyond which frames are refused ("Backlog"): the disk cannot keep up. */
const MKV_BACKLOG_LIMIT_BYTES = 32 * 1024 * 1024
/** Gaps between frames beyond this are pauses, not the track's frame interval. */
const MAX_FRAME_INTERVAL_SECONDS = 1
/** Frame intervals kept per track for the length of its last frame. */
const INTERVALS_KEPT = 15
/** A Cluster this large is closed even without a key frame, so memory stays bounded. */
const CLUSTER_HARD_LIMIT_BYTES = 16 * 1024 * 1024
/** Tracks space of a file whose tracks are known at open (a few hundred bytes each). */
const SINGLE_TRACKS_REGION = 8 * 1024
/** Tracks space of a multi-recording: room for a few hundred tracks. */
export const MULTI_TRACKS_REGION = 128 * 1024

interface TrackState {
  readonly track: Track
  readonly number: number
  /** Seconds subtracted from a frame's own time to place it in the file; set by its first frame. */
  base: number | undefined
  /** Multi-recordings: where the track's first frame goes in the file (seconds). */
  readonly startOffset: number | undefined
  entry: Uint8Array | undefined
  lastDts: number | undefined
  /** The latest presentation time (seconds) and where the frames known to last (audio) end. */
  lastPresented: number
  lastEnd: number
  /** The last frame intervals (seconds), whose median is how long the last frame of a track lasts. */
  readonly intervals: Array<number>
}

interface OpenCluster {
  readonly startMs: number
  readonly blocks: Array<Uint8Array>
  bytes: number
}

export class MkvWriter implements ContainerWriter {
  private readonly file: PositionedFile
  private readonly limits: ClusterLimitOptions
  private readonly tracksRegion: number
  private readonly tracks: Array<TrackState> = []
  private readonly segmentStart: number
  private readonly seekHeadAt: number
  private readonly infoAt: number
  private readonly tracksAt: number
  private readonly dateUtcNs: number
  /** Where the next Cluster goes. */
  private end: number
  private cluster: OpenCluster | undefined
  private readonly cues: Array<{ timeMs: number; trackNumber: number; clusterPosition: number }> = []
  /** The file's timeline origin for tracks without a start offset: the first video key frame's time. */
  private origin: number | undefined
  private hasVideo: boolean
  private accepted = 0
  private state: "recording" | "finalizing" | "closed" = "recording"

  constructor(options: {
    readonly file: PositionedFile
    readonly limits: ClusterLimitOptions
    readonly creationTime: Date
    /** Tracks known at open (a stream's recording); more may be added with `addTrack`. */
    readonly tracks?: ReadonlyArray<Track>
    readonly tracksRegion?: number
  }) {
    this.file = options.file
    this.limits = options.limits
    this.tracksRegion = options.tracksRegion ?? SINGLE_TRACKS_REGION
    this.dateUtcNs = dateUtcNanoseconds(options.creationTime)
    const ebml = master(ID.EBML, [
      uint(ID.EBMLVersion, 1),
      uint(ID.EBMLReadVersion, 1),
      uint(ID.EBMLMaxIDLength, 4),
      uint(ID.EBMLMaxSizeLength, 8),
      string(ID.DocType, "matroska"),
      uint(ID.DocTypeVersion, 4),
      uint(ID.DocTypeReadVersion, 2)
    ])
    const segmentHeader = concat([idBytes(ID.Segment), UNKNOWN_SIZE])
    this.segmentStart = ebml.byteLength + segmentHeader.byteLength
    this.seekHeadAt = this.segmentStart
    this.infoAt = this.seekHeadAt + SEEK_HEAD_REGION
    this.tracksAt = this.infoAt + INFO_REGION
    this.end = this.tracksAt + this.tracksRegion
    this.hasVideo = (options.tracks ?? []).some((track) => track.kind === "video")
    void this.file.write(concat([ebml, segmentHeader]), 0)
    this.writeRegion(this.seekHeadAt, this.seekHead(), SEEK_HEAD_REGION)
    this.writeRegion(this.infoAt, info(this.dateUtcNs, undefined), INFO_REGION)
    this.writeRegion(this.tracksAt, master(ID.Tracks, []), this.tracksRegion)
    for (const track of options.tracks ?? []) this.register(track, undefined)
  }

  /**
   * Adds a track while recording (a stream joining a multi-recording); its first frame is placed at
   * `startOffset` seconds of the file. Returns its index for `push`.
   */
  addTrack(track: Track, options: { readonly startOffset: number }): number | ContainerWriteError {
    const problem = this.file.error ?? checkMkvTrack(track)
    if (problem !== undefined) return problem
    if (this.state !== "recording") return new ContainerWriteError("the file is being finalized", "Closed")
    if (track.kind === "video") this.hasVideo = true
    return this.register(track, Math.max(0, options.startOffset))
  }

  readonly push = (trackIndex: number, frame: Frame): ContainerWriteError | undefined => {
    const failure = this.file.error
    if (failure !== undefined) return failure
    if (this.state !== "recording") return new ContainerWriteError("the file is being finalized", "Closed")
    const state = this.tracks[trackIndex]
    if (state === undefined || state.track.kind !== frame.kind) {
      return new ContainerWriteError(`no ${frame.kind} track ${trackIndex}`, "InvalidTrack")
    }
    const { track } = state
    if (state.entry === undefined && frame.kind === "video" && !frame.keyframe) return undefined
    if (state.base === undefined) {
      if (state.startOffset !== undefined) state.base = frame.dts / track.timescale - state.startOffset
      else {
        // A stream's file starts with its first video key frame (or first frame without video).
        if (this.origin === undefined && this.hasVideo && !(frame.kind === "video" && frame.keyframe)) return undefined
        this.origin ??= frame.dts / track.timescale
        state.base = this.origin
      }
    }
    const presented = frame.pts / track.timescale - state.base
    // Audio sent before the first video key frame but arriving after it would start before the file does.
    if (presented < 0) return undefined
    if (state.lastDts !== undefined && frame.dts < state.lastDts) {
      const message = `${track.codec} decode time went back from ${state.lastDts} to ${frame.dts}`
      return new ContainerWriteError(message, "Timestamps")
    }
    if (this.file.queuedBytes > MKV_BACKLOG_LIMIT_BYTES) {
      return new ContainerWriteError(`the disk is ${this.file.queuedBytes} bytes behind`, "Backlog")
    }
    if (state.entry === undefined) {
      const entry = trackEntry(state.number, track, frame.data)
      if (entry instanceof ContainerWriteError) return entry
      state.entry = entry
      const written = this.writeTracks()
      if (written !== undefined) {
        state.entry = undefined
        return written
      }
    }
    if (state.lastDts !== undefined && frame.dts > state.lastDts) {
      const delta = (frame.dts - state.lastDts) / track.timescale
      if (delta < MAX_FRAME_INTERVAL_SECONDS) {
        if (state.intervals.length === INTERVALS_KEPT) state.intervals.shift()
        state.intervals.push(delta)
      }
    }
    state.lastDts = frame.dts
    state.lastPresented = Math.max(state.lastPresented, presented)
    const frameSeconds = codecFrameSeconds(track, frame.data)
    if (frameSeconds !== undefined) state.lastEnd = Math.max(state.lastEnd, presented + frameSeconds)
    this.addBlock(state.number, Math.round(presented * 1000), frame)
    this.accepted += frame.data.byteLength
    return undefined
  }

  readonly bytesWritten = (): number => this.accepted

  readonly finalize = (finalPath: string): Effect.Effect<FinalizedFile, ContainerWriteError> =>
    Effect.suspend(() => {
      if (this.state !== "recording") return Effect.fail(new ContainerWriteError("finalized twice", "Closed"))
      this.state = "finalizing"
      return this.complete(finalPath).pipe(Effect.tapError(() => this.file.release()))
    })

  readonly abort = (): Effect.Effect<void> =>
    Effect.suspend(() => {
      this.state = "closed"
      this.cluster = undefined
      return this.file.discard()
    })

  /** Settles once everything written so far is on disk (tests). */
  readonly settled = (): Promise<void> => this.file.drained()

  /** Tracks that got at least one frame. */
  get recordedTracks(): number {
    return this.tracks.filter((state) => state.entry !== undefined).length
  }

  private complete(finalPath: string): Effect.Effect<FinalizedFile, ContainerWriteError> {
    return Effect.gen({ self: this }, function*() {
      const failure = this.file.error
      if (failure !== undefined) return yield* Effect.fail(failure)
      if (this.recordedTracks === 0) {
        return yield* Effect.fail(new ContainerWriteError("no frame was recorded", "Empty"))
      }
      this.closeCluster()
      const cuesAt = this.end
      // In time order: a multi-recording's streams send their key frames a little out of step.
      const points = [...this.cues].sort((a, b) => a.timeMs - b.timeMs)
      const cues = master(ID.Cues, points.map((c) => cuePoint(c.timeMs, c.trackNumber, c.clusterPosition)))
      void this.file.write(cues, cuesAt)
      this.end += cues.byteLength
      const tagsAt = this.end
      const tags = durationTags(
        this.tracks.flatMap((t) => (t.entry === undefined ? [] : [{ uid: t.number, endSeconds: trackEnd(t) }]))
      )
      void this.file.write(tags, tagsAt)
      this.end += tags.byteLength
      const durationSeconds = Math.max(0, ...this.tracks.filter((t) => t.entry !== undefined).map(trackEnd))
      this.writeRegion(this.infoAt, info(this.dateUtcNs, durationSeconds), INFO_REGION)
      const seek = this.seekHead(cuesAt - this.segmentStart, tagsAt - this.segmentStart)
      this.writeRegion(this.seekHeadAt, seek, SEEK_HEAD_REGION)
      void this.file.write(sizeBytes(this.end - this.segmentStart, 8), this.segmentStart - 8)
      const bytes = yield* this.file.commit(finalPath)
      this.state = "closed"
      return { path: finalPath, bytes, durationSeconds }
    }).pipe(Effect.withSpan("MkvWriter.finalize"))
  }

  private register(track: Track, startOffset: number | undefined): number {
    const index = this.tracks.length
    this.tracks.push({
      track,
      number: index + 1,
      base: undefined,
      startOffset,
      entry: undefined,
      lastDts: undefined,
      lastPresented: 0,
      lastEnd: 0,
      intervals: []
    })
    return index
  }

  /** Rewrites the Tracks region with every track that has a frame; refuses a track that no longer fits. */
  private writeTracks(): ContainerWriteError | undefined {
    const entries = this.tracks.flatMap((state) => (state.entry === undefined ? [] : [state.entry]))
    const region = padded(master(ID.Tracks, entries), this.tracksRegion)
    if (region === undefined) {
      const message = `no room for another track in the ${this.tracksRegion}-byte Tracks region`
      return new ContainerWriteError(message, "TooManyTracks")
    }
    void this.file.write(region, this.tracksAt)
    return undefined
  }

  private writeRegion(at: number, data: Uint8Array, region: number): void {
    const bytes = padded(data, region)
    if (bytes === undefined) throw new RangeError(`${data.byteLength} bytes do not fit a ${region}-byte region`)
    void this.file.write(bytes, at)
  }

  private seekHead(cuesPosition?: number, tagsPosition?: number): Uint8Array {
    return seekHead({
      info: this.infoAt - this.segmentStart,
      tracks: this.tracksAt - this.segmentStart,
      cues: cuesPosition,
      tags: tagsPosition
    })
  }

  private addBlock(trackNumber: number, timeMs: number, frame: Frame): void {
    const startsGroup = frame.kind === "video" ? frame.keyframe : !this.hasVideo
    let cluster = this.cluster
    if (cluster !== undefined) {
      const relative = timeMs - cluster.startMs
      const limitReached = cluster.bytes >= this.limits.clusterSizeBytes ||
        relative >= this.limits.clusterDurationMs
      if (
        relative > 32_767 || relative < -32_768 || cluster.bytes >= CLUSTER_HARD_LIMIT_BYTES ||
        (limitReached && startsGroup)
      ) {
        this.closeCluster()
        cluster = undefined
      }
    }
    if (cluster === undefined) {
      cluster = { startMs: Math.max(0, timeMs), blocks: [], bytes: 0 }
      this.cluster = cluster
    }
    // A CuePoint for every video key frame (a seek then starts right at it), and for the start of every Cluster of
    // a file without video. The Cluster is written at `end` when it closes.
    if (frame.kind === "video" ? frame.keyframe : !this.hasVideo && cluster.blocks.length === 0) {
      this.cues.push({ timeMs: Math.max(0, timeMs), trackNumber, clusterPosition: this.end - this.segmentStart })
    }
    // SimpleBlock header (RFC 9559 10.1): track number as a varint, signed 16-bit relative time, flags.
    const number = sizeBytes(trackNumber)
    const header = new Uint8Array(number.byteLength + 3)
    header.set(number, 0)
    new DataView(header.buffer).setInt16(number.byteLength, timeMs - cluster.startMs)
    header[number.byteLength + 2] = frame.kind === "audio" || frame.keyframe ? 0x80 : 0
    const size = sizeBytes(header.byteLength + frame.data.byteLength)
    cluster.blocks.push(concat([Uint8Array.of(ID.SimpleBlock), size, header]), frame.data)
    cluster.bytes += 1 + size.byteLength + header.byteLength + frame.data.byteLength
  }

  /** Writes the open Cluster whole, after everything before it. */
  private closeCluster(): void {
    const cluster = this.cluster
    this.cluster = undefined
    if (cluster === undefined || cluster.blocks.length === 0) return
    const timestamp = uint(ID.Timestamp, cluster.startMs)
    const body = timestamp.byteLength + cluster.bytes
    const parts = [concat([idBytes(ID.Cluster), sizeBytes(body, 8), timestamp]), ...cluster.blocks]
    let at = this.end
    for (const part of parts) {
      void this.file.write(part, at)
      at += part.byteLength
    }
    this.end = at
  }
}

/**
 * Where a track ends: its last frame plus that frame's length, which the codec tells for audio and the median of
 * the latest frame intervals estimates for video (a single stall does not stretch it; a lone frame gets 1/30 s).
 */
const trackEnd = (state: TrackState): number => {
  if (state.lastEnd > 0) return state.lastEnd
  const sorted = [...state.intervals].sort((a, b) => a - b)
  return state.lastPresented + (sorted.length === 0 ? 1 / 30 : sorted[Math.floor(sorted.length / 2)]!)
}
