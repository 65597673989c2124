/**
 * Records H.264 + AAC frames into an MP4 (ISO/IEC 14496-12/-14/-15): frames are interleaved into ~0.5 s chunks
 * in a temp data file (data-layout.ts) with a crash-safe journal (temp-files.ts), and finalize writes the moov;
 * with a header mode (recording-header.ts) the moov goes into reserved space, is kept current while recording, or
 * both.
 *
 * Decision (bench/mp4-memory.ts, BENCHMARKS.md "MP4 writer memory"): our own writer, not mediabunny's
 * Mp4OutputFormat({ fastStart: false }). For one hour of 1080p30 + AAC (263k samples) it retains 12.7 bytes per
 * sample (3.3 MB; 10.6 B marginal) against mediabunny's 261 (69 MB; 191 B marginal): 0.33 GB instead of 6.9 GB for
 * 100 streams. It pushes 370-860 MB/s of 3 Mbit/s media (mediabunny: 134), and finalizes the hour's moov in 0.2 s.
 *
 * Writes use fs.writeSync of whole chunks (one call per track per ~0.5 s, plus one journal append): push stays
 * synchronous with no allocation per frame once the buffers have grown, a write error comes back from the very
 * push that caused it, chunk offsets are exact when recorded, and no in-flight promise retains a buffer. The cost
 * is a page-cache copy of ~200 KB on the event loop per flush at 3 Mbit/s (0.25-0.5 ms in the benchmark);
 * finalize, which moves megabytes to gigabytes, is asynchronous.
 */
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import { Effect } from "effect"
import type { Frame, Track } from "../../media/frame.ts"
import { ByteWriter } from "./byte-writer.ts"
import { type DataLayout, dataFileHeader, dataStartOf, pendingHeaderPathOf } from "./data-layout.ts"
import { writeAllSync } from "./descriptor-io.ts"
import { type Mp4FileInfo, type Mp4FinalizeOptions, writeMp4File } from "./mp4-file-writer.ts"
import { ioError, Mp4WriteError, type Mp4WriteErrorReason } from "./mp4-write-error.ts"
import type { RecordedMedia } from "./recorded-media.ts"
import { headerModeProblem, type Mp4HeaderMode, RecordingHeader } from "./recording-header.ts"
import { journalPath, writeChunkRecord, writeHeaderRecord, writeTrackRecord } from "./temp-files.ts"
import { TrackRecording } from "./track-recording.ts"

export type { Mp4HeaderMode } from "./recording-header.ts"

export interface Mp4RecorderOptions {
  /** The temp data file; its journal goes next to it as `tmpPath + ".idx"`, a split header as `headerPathOf`. */
  readonly tmpPath: string
  readonly tracks?: ReadonlyArray<Track>
  /** Unix epoch milliseconds (from Clock), written as the creation time of the movie and its tracks. */
  readonly creationTime: number
  /** Media time buffered per track before it is written as one chunk. Default 0.5 s. */
  readonly interleaveSeconds?: number
  /** Media bytes buffered across all tracks before a write, whatever their duration. Default 512 KiB. */
  readonly interleaveBytes?: number
  /** mvhd/tkhd/elst timescale. Default 1000, as ffmpeg. */
  readonly movieTimescale?: number
  /** Default AtFinalize. */
  readonly header?: Mp4HeaderMode
  /** The published stream, kept in the journal so a recovered file can be announced under it. */
  readonly streamName?: string
}

export interface AddTrackOptions {
  /** Seconds from the start of the file at which this track begins (an empty edit before it). When absent, the
   * track is placed by its first pts relative to the earliest track, which suits tracks sharing one clock. */
  readonly startOffset?: number
}

type State = "recording" | "stopped" | "finalized" | "aborted"

const supported = (track: Track): string | undefined => {
  if (track.kind === "video" && track.codec !== "H264") return `video codec ${track.codec}`
  if (track.kind === "audio" && track.codec !== "AAC") return `audio codec ${track.codec}`
  if (track.config.length === 0) return `${track.codec} track without its decoder configuration`
  if (!(track.timescale > 0)) return `timescale ${track.timescale}`
  return undefined
}

export class Mp4Recorder {
  readonly tmpPath: string
  readonly creationTime: number
  readonly movieTimescale: number
  readonly #tracks: Array<TrackRecording> = []
  readonly #interleaveSeconds: number
  readonly #interleaveBytes: number
  readonly #journal = new ByteWriter(16 * 1024)
  readonly layout: DataLayout
  readonly #header: RecordingHeader
  #dataFd: number
  #journalFd: number
  #dataEnd: number
  #journalEnd = 0
  #pendingBytes = 0
  #state: State = "recording"
  /** Why pushes are refused; set by an I/O error or when the recorder stops. */
  #failure: Mp4WriteError | undefined
  readonly #rejections = new Map<Mp4WriteErrorReason, Mp4WriteError>()

  private constructor(options: Mp4RecorderOptions, dataFd: number, journalFd: number) {
    this.tmpPath = options.tmpPath
    this.creationTime = options.creationTime
    this.movieTimescale = options.movieTimescale ?? 1000
    this.#interleaveSeconds = options.interleaveSeconds ?? 0.5
    this.#interleaveBytes = options.interleaveBytes ?? 512 * 1024
    this.#dataFd = dataFd
    this.#journalFd = journalFd
    this.#header = new RecordingHeader(options.header ?? { _tag: "AtFinalize" })
    this.layout = this.#header.layout
    this.#dataEnd = dataStartOf(this.layout)
  }

  /** Creates the temp data file and journal and adds `options.tracks`. */
  static open = Effect.fn("Mp4Recorder.open")(function*(options: Mp4RecorderOptions) {
    for (const track of options.tracks ?? []) {
      const why = supported(track)
      if (why !== undefined) return yield* new Mp4WriteError({ reason: "UnsupportedCodec", message: why })
    }
    const problem = options.header && headerModeProblem(options.header)
    if (problem !== undefined) return yield* new Mp4WriteError({ reason: "InvalidOptions", message: problem })
    const { tmpPath } = options
    const openFile = (file: string) =>
      Effect.try({ try: () => fs.openSync(file, "w"), catch: (e) => ioError("open", file, e) })
    const dataFd = yield* openFile(tmpPath)
    const idx = journalPath(tmpPath)
    const journalFd = yield* openFile(idx).pipe(
      Effect.tapError(() => Effect.sync(() => {
        fs.closeSync(dataFd)
        fs.rmSync(tmpPath, { force: true })
      }))
    )
    const recorder = new Mp4Recorder(options, dataFd, journalFd)
    const header = {
      creationTime: options.creationTime,
      movieTimescale: recorder.movieTimescale,
      layout: recorder.layout,
      streamName: options.streamName ?? ""
    }
    writeHeaderRecord(recorder.#journal, header)
    const failure = writeAllSync(recorder.#dataFd, dataFileHeader(recorder.layout), 0, tmpPath) ??
      recorder.#appendJournal()
    if (failure !== undefined) {
      // Synchronous cleanup keeps open runnable with Effect.runSync.
      recorder.#closeFiles()
      fs.rmSync(tmpPath, { force: true })
      fs.rmSync(idx, { force: true })
      return yield* failure
    }
    for (const track of options.tracks ?? []) recorder.addTrack(track)
    return recorder
  })

  /** Adds a track, also after frames were pushed; returns its index for `push`. */
  addTrack(track: Track, options?: AddTrackOptions): number | Mp4WriteError {
    if (this.#failure !== undefined) return this.#failure
    const why = supported(track)
    if (why !== undefined) return new Mp4WriteError({ reason: "UnsupportedCodec", message: why })
    const index = this.#tracks.length
    this.#tracks.push(new TrackRecording(index, track, options?.startOffset))
    this.#header.tracksChanged(this.#tracks.map((t) => t.track))
    return index
  }

  /**
   * Records one frame (dts/pts in the track's timescale; H.264 as AVCC, AAC raw). Never throws. A frame that does
   * not fit (not a keyframe first, dts backwards) is dropped with its reason; after an I/O error every push
   * returns that error and `finalize` still writes what reached the disk.
   */
  push(trackIndex: number, frame: Frame): Mp4WriteError | undefined {
    if (this.#failure !== undefined) return this.#failure
    const track = this.#tracks[trackIndex]
    if (track === undefined) return this.#rejection("UnknownTrack", `no track ${trackIndex}`)
    const rejected = track.rejects(frame)
    if (rejected !== undefined) {
      return this.#rejection(rejected, `frame at dts ${frame.dts} dropped on track ${trackIndex}`)
    }
    const decodeTime = track.decodeTimeOf(frame)
    const size = frame.data.length
    const due = track.pendingCount > 0 &&
      decodeTime - track.pendingBase >= this.#interleaveSeconds * track.mediaTimescale
    if (this.#pendingBytes > 0 && (due || this.#pendingBytes + size > this.#interleaveBytes)) {
      const failure = this.#flush()
      if (failure !== undefined) return failure
    }
    track.add(frame, decodeTime)
    this.#pendingBytes += size
    const header = this.#header
    if (frame.keyframe && frame.kind === "video") header.keyframe(this.#tracks)
    const failure = header.takeFailure()
    if (failure !== undefined) return (this.#failure = failure)
    const seconds = frame.dts / track.track.timescale
    return header.due(seconds) ? this.#updateHeader(seconds) : undefined
  }

  /**
   * Reserved layout: whether the moov could outgrow the reservation before the next cut point, so the recording
   * should rotate now (asked at keyframes). Conservative: an upper bound of the moov's size (moov-size.ts) plus
   * twice what the last GOP added plus a safety of a few samples. Always false for the other layouts.
   */
  headerFull(): boolean {
    return this.#header.full(this.#tracks)
  }

  /** An upper bound of the moov's size if the file were finalized now (reserved layout; 0 otherwise). */
  get moovBytesBound(): number {
    return this.#header.moovBytesBound(this.#tracks)
  }

  /** Samples the last completed header update references (0 without header on the fly or before the first). */
  get headerSamples(): number {
    return this.#header.schedule?.coveredSamples ?? 0
  }

  /** Completed header updates. */
  get headerUpdates(): number {
    return this.#header.schedule?.completed ?? 0
  }

  /** Waits for the header update in flight, if any. */
  get headerSettled(): Effect.Effect<void> {
    return this.#header.schedule?.settled ?? Effect.void
  }

  /** Where a playable header is kept while recording: the data file, or a split recording's header file. */
  get headerPath(): string {
    return this.#header.headerPathFor(this.tmpPath)
  }

  /** Flushes the interleave buffers so every sample is on disk, then writes a header for all of them. */
  #updateHeader(seconds: number): Mp4WriteError | undefined {
    const failure = this.#flush()
    if (failure !== undefined) return failure
    const files = {
      dataFd: this.#dataFd,
      dataPath: this.tmpPath,
      journalFd: this.#journalFd,
      journalPath: journalPath(this.tmpPath)
    }
    this.#header.update(this.#media(), files, seconds)
    return undefined
  }

  #media(): RecordedMedia {
    return {
      tmpPath: this.tmpPath,
      layout: this.layout,
      dataEnd: this.#dataEnd,
      creationTime: this.creationTime,
      movieTimescale: this.movieTimescale,
      tracks: this.#tracks
    }
  }

  get trackCount(): number {
    return this.#tracks.length
  }

  /** Size of the file so far without its moov: written and buffered media plus what precedes the media (48 bytes;
   * with a reservation, the reserved region too). */
  get bytesWritten(): number {
    return this.#dataEnd + this.#pendingBytes
  }

  sampleCount(trackIndex: number): number {
    return this.#tracks[trackIndex]?.samples.sampleCount ?? 0
  }

  /** Samples of a track whose chunk and journal record are written: what `recoverMp4` restores after a crash. */
  journaledSampleCount(trackIndex: number): number {
    return this.#tracks[trackIndex]?.pendingFirst ?? 0
  }

  /** Media duration of one track in seconds (the last frame counted with the previous frame's duration). */
  trackDurationSeconds(trackIndex: number): number {
    return this.#tracks[trackIndex]?.durationSeconds ?? 0
  }

  /** Duration of the movie so far: the latest track end, tracks placed as the edit lists will place them. */
  get durationSeconds(): number {
    let origin = Infinity
    for (const t of this.#tracks) {
      if (t.samples.sampleCount > 0 && t.startOffset === undefined) origin = Math.min(origin, t.presentationStart)
    }
    let end = 0
    for (const t of this.#tracks) {
      if (t.samples.sampleCount === 0) continue
      const start = t.startOffset ?? t.presentationStart - origin
      end = Math.max(end, start + t.durationSeconds)
    }
    return end
  }

  /** Heap held by the sample tables (benchmarks). */
  get tableBytes(): number {
    let bytes = 0
    for (const t of this.#tracks) bytes += t.samples.retainedBytes
    return bytes
  }

  /** Writes the final MP4 (see Mp4FinalizeOptions) and removes the temp files. Pushes are refused from now on. */
  finalize(options: Mp4FinalizeOptions): Effect.Effect<Mp4FileInfo, Mp4WriteError> {
    return Effect.suspend(() => {
      if (this.#state === "finalized" || this.#state === "aborted") {
        const message = `${this.tmpPath} was already ${this.#state}`
        return Effect.fail(new Mp4WriteError({ reason: "Closed", message }))
      }
      return this.headerSettled.pipe(
        Effect.andThen(Effect.suspend(() => {
          this.#stop()
          return writeMp4File(this.#media(), options)
        })),
        Effect.tap(() => Effect.sync(() => (this.#state = "finalized")))
      )
    }).pipe(Effect.withSpan("Mp4Recorder.finalize"))
  }

  /** Drops the recording: closes and deletes the temp files (data, journal, header). Safe to call at any time. */
  abort(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.#state === "finalized" || this.#state === "aborted") return Effect.void
      this.#state = "aborted"
      this.#failure = new Mp4WriteError({ reason: "Closed", message: `${this.tmpPath} was aborted` })
      const files = [this.tmpPath, journalPath(this.tmpPath)]
      if (this.layout._tag === "Split") files.push(this.headerPath, pendingHeaderPathOf(this.headerPath))
      return this.headerSettled.pipe(
        Effect.andThen(Effect.sync(() => this.#closeFiles())),
        Effect.andThen(Effect.promise(() => Promise.all(files.map((file) => fsp.rm(file, { force: true })))))
      )
    }).pipe(Effect.asVoid, Effect.withSpan("Mp4Recorder.abort"))
  }

  /** Flushes what is buffered, closes the files and refuses further pushes. */
  #stop(): void {
    if (this.#state !== "recording") return
    if (this.#failure === undefined) this.#flush()
    this.#closeFiles()
    this.#state = "stopped"
    this.#failure = new Mp4WriteError({ reason: "Closed", message: `${this.tmpPath} is finalized` })
  }

  #closeFiles(): void {
    if (this.#dataFd >= 0) fs.closeSync(this.#dataFd)
    if (this.#journalFd >= 0) fs.closeSync(this.#journalFd)
    this.#dataFd = -1
    this.#journalFd = -1
  }

  #rejection(reason: Mp4WriteErrorReason, message: string): Mp4WriteError {
    let error = this.#rejections.get(reason)
    if (error === undefined) {
      error = new Mp4WriteError({ reason, message })
      this.#rejections.set(reason, error)
    }
    return error
  }

  /** Writes every track's buffered samples as one chunk each, then their journal records. */
  #flush(): Mp4WriteError | undefined {
    const journal = this.#journal
    let failure: Mp4WriteError | undefined
    for (const track of this.#tracks) {
      if (track.pendingCount === 0) continue
      if (failure !== undefined) {
        track.dropPending()
        continue
      }
      const offset = this.#dataEnd
      failure = writeAllSync(this.#dataFd, track.pending, offset, this.tmpPath, track.pendingBytes)
      if (failure !== undefined) {
        track.dropPending()
        continue
      }
      this.#dataEnd += track.pendingBytes
      if (!track.journaled) {
        writeTrackRecord(journal, track)
        track.journaled = true
      }
      writeChunkRecord(journal, track, offset)
      track.chunkWritten(offset)
    }
    this.#pendingBytes = 0
    failure = this.#appendJournal() ?? failure
    if (failure !== undefined) this.#failure = failure
    return failure
  }

  #appendJournal(): Mp4WriteError | undefined {
    const bytes = this.#journal.bytes
    if (bytes.length === 0) return undefined
    const failure = writeAllSync(this.#journalFd, bytes, this.#journalEnd, journalPath(this.tmpPath))
    if (failure === undefined) this.#journalEnd += bytes.length
    this.#journal.reset()
    return failure
  }
}
