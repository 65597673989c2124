/**
 * One MPEG-TS recording (manual: "Recording to MPEG-TS container"): H.264 and AAC frames become PES packets in
 * 188-byte transport packets, synchronously in `push`. The file starts with PAT and PMT and then the first video
 * key frame; the tables come again before every key frame and at least every TABLE_INTERVAL_90K; the PCR rides
 * on the video PID (on the audio PID without video). Bytes are handed to the file at every key frame and every
 * FLUSH_BYTES, so a crash loses at most the last group of pictures: a transport stream needs no index to play.
 */
import { Effect } from "effect"
import type { Frame, Track } from "../../media/frame.ts"
import { ContainerWriteError, type ContainerWriter, type FinalizedFile } from "../../pipelines/container-format.ts"
import { codecFrameSeconds } from "../matroska/frame-duration.ts"
import type { PositionedFile } from "../matroska/positioned-file.ts"
import {
  adtsConfigOf,
  type AdtsConfig,
  adtsHeader,
  annexBAccessUnit,
  type ParameterSets,
  parameterSetsOf
} from "./elementary-streams.ts"
import { pesHeader, STREAM_ID_AUDIO, STREAM_ID_VIDEO } from "./pes-header.ts"
import { patSection, pmtSection, type ProgramStream, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264 } from "./psi-tables.ts"
import { TsPacketizer } from "./ts-packets.ts"

/** PIDs as ffmpeg assigns them: PMT 0x1000, elementary streams from 0x100. */
const PMT_PID = 0x1000
const FIRST_STREAM_PID = 0x100
/** The PTS clock (13818-1 2.4.3.7). */
const CLOCK = 90_000
/**
 * Timestamps start at 0.7 s and the PCR runs 0.7 s behind the decode time (ffmpeg's default mux delay): the PCR
 * never goes negative and a frame may arrive up to that late relative to the other track's.
 */
const MUX_DELAY_90K = 63_000
/** PAT and PMT at least this often (ffmpeg's pat_period, 0.1 s). */
const TABLE_INTERVAL_90K = 9_000
/**
 * Gap after which an audio frame brings a PCR-only packet on a quiet PCR PID: 2.7.2 allows at most 0.1 s between
 * PCRs, and audio frames come every ~20 ms, so 80 ms keeps every gap under the bound.
 */
const PCR_INTERVAL_90K = 7_200
/** Buffered bytes that trigger a write before the next key frame. */
const FLUSH_BYTES = 256 * 1024
/** Bytes queued for the disk beyond which frames are refused ("Backlog"). */
export const TS_BACKLOG_LIMIT_BYTES = 32 * 1024 * 1024

interface StreamState {
  readonly track: Track
  readonly pid: number
  readonly parameterSets: ParameterSets | undefined
  readonly adts: AdtsConfig | undefined
  started: boolean
  lastDts: number | undefined
  lastDelta: number | undefined
}

export class MpegTsWriter implements ContainerWriter {
  private readonly file: PositionedFile
  private readonly streams: Array<StreamState>
  private readonly pcrStream: StreamState
  private readonly hasVideo: boolean
  private readonly pat: Uint8Array
  private readonly pmt: Uint8Array
  private readonly ts = new TsPacketizer()
  private origin: number | undefined
  private lastTables90k = Number.NEGATIVE_INFINITY
  private lastPcr90k = Number.NEGATIVE_INFINITY
  private written = 0
  private endSeconds = 0
  private state: "recording" | "closed" = "recording"

  constructor(file: PositionedFile, tracks: ReadonlyArray<Track>) {
    this.file = file
    this.streams = tracks.map((track, i) => ({
      track,
      pid: FIRST_STREAM_PID + i,
      parameterSets: track.kind === "video" ? parameterSetsOf(track.config) : undefined,
      adts: track.kind === "audio" ? adtsConfigOf(track.config) : undefined,
      started: false,
      lastDts: undefined,
      lastDelta: undefined
    }))
    const video = this.streams.find((s) => s.track.kind === "video")
    this.hasVideo = video !== undefined
    this.pcrStream = video ?? this.streams[0]!
    const program: Array<ProgramStream> = this.streams.map((s) => ({
      streamType: s.track.kind === "video" ? STREAM_TYPE_H264 : STREAM_TYPE_AAC_ADTS,
      pid: s.pid
    }))
    this.pat = patSection(PMT_PID)
    this.pmt = pmtSection(this.pcrStream.pid, program)
  }

  readonly push = (trackIndex: number, frame: Frame): ContainerWriteError | undefined => {
    const failure = this.file.error
    if (failure !== undefined) return failure
    if (this.state !== "recording") return new ContainerWriteError("the file is being finalized", "Closed")
    const stream = this.streams[trackIndex]
    if (stream === undefined || stream.track.kind !== frame.kind) {
      return new ContainerWriteError(`no ${frame.kind} track ${trackIndex}`, "InvalidTrack")
    }
    const { track } = stream
    const isVideo = track.kind === "video"
    if (this.origin === undefined) {
      if (this.hasVideo && !(isVideo && frame.keyframe)) return undefined
      this.origin = frame.dts / track.timescale
    }
    if (!stream.started && isVideo && !frame.keyframe) return undefined
    const ptsSeconds = frame.pts / track.timescale - this.origin
    if (ptsSeconds < 0) return undefined
    if (stream.lastDts !== undefined && frame.dts < stream.lastDts) {
      const message = `${track.codec} decode time went back from ${stream.lastDts} to ${frame.dts}`
      return new ContainerWriteError(message, "Timestamps")
    }
    if (this.file.queuedBytes > TS_BACKLOG_LIMIT_BYTES) {
      return new ContainerWriteError(`the disk is ${this.file.queuedBytes} bytes behind`, "Backlog")
    }
    const dtsSeconds = Math.max(0, frame.dts / track.timescale - this.origin)
    const body = isVideo
      ? annexBAccessUnit(frame.data, frame.keyframe, stream.parameterSets!)
      : frame.data
    if (body === undefined) return new ContainerWriteError("H.264 frame with a bad NAL unit length", "InvalidFrame")
    const pts90k = Math.round(ptsSeconds * CLOCK) + MUX_DELAY_90K
    const dts90k = Math.round(dtsSeconds * CLOCK) + MUX_DELAY_90K
    const keyframe = isVideo && frame.keyframe
    if (keyframe) this.flush()
    if (keyframe || dts90k - this.lastTables90k >= TABLE_INTERVAL_90K) {
      this.ts.writeSection(0, this.pat)
      this.ts.writeSection(PMT_PID, this.pmt)
      this.lastTables90k = dts90k
    }
    const pcr90k = Math.max(this.lastPcr90k, dts90k - MUX_DELAY_90K)
    const carriesPcr = stream === this.pcrStream
    if (!carriesPcr && this.pcrStream.started && pcr90k - this.lastPcr90k >= PCR_INTERVAL_90K) {
      // The PCR PID is quiet (a low frame rate): a packet with only a PCR keeps the clock within 0.1 s.
      this.ts.writePcrOnly(this.pcrStream.pid, pcr90k)
      this.lastPcr90k = pcr90k
    }
    if (carriesPcr) this.lastPcr90k = pcr90k
    // Audio goes with its ADTS header in front, one access unit per PES packet.
    const head = isVideo
      ? pesHeader(STREAM_ID_VIDEO, pts90k, dts90k, body.byteLength, false)
      : concat(
        pesHeader(STREAM_ID_AUDIO, pts90k, pts90k, body.byteLength + 7, true),
        adtsHeader(stream.adts!, body.byteLength)
      )
    this.ts.writePes(stream.pid, head, body, {
      pcr90k: carriesPcr ? pcr90k : undefined,
      randomAccess: keyframe || (!this.hasVideo && !isVideo)
    })
    if (stream.lastDts !== undefined && frame.dts > stream.lastDts) {
      stream.lastDelta = (frame.dts - stream.lastDts) / track.timescale
    }
    stream.lastDts = frame.dts
    stream.started = true
    const duration = codecFrameSeconds(track, frame.data) ?? stream.lastDelta ?? 0
    if (ptsSeconds + duration > this.endSeconds) this.endSeconds = ptsSeconds + duration
    if (this.ts.out.length >= FLUSH_BYTES) this.flush()
    return this.file.error
  }

  readonly bytesWritten = (): number => this.written + this.ts.out.length

  readonly finalize = (finalPath: string): Effect.Effect<FinalizedFile, ContainerWriteError> =>
    Effect.suspend(() => {
      if (this.state !== "recording") return Effect.fail(new ContainerWriteError("finalized twice", "Closed"))
      this.state = "closed"
      if (this.origin === undefined) return Effect.fail(new ContainerWriteError("no frame was recorded", "Empty"))
      this.flush()
      // On failure the descriptor is closed and the file kept; `abort` deletes it.
      return this.file.commit(finalPath).pipe(
        Effect.map((bytes) => ({ path: finalPath, bytes, durationSeconds: this.endSeconds })),
        Effect.tapError(() => this.file.release()),
        Effect.withSpan("MpegTsWriter.finalize")
      )
    })

  readonly abort = (): Effect.Effect<void> =>
    Effect.suspend(() => {
      this.state = "closed"
      return this.file.discard()
    })

  /** Settles once every byte written so far is on disk (for tests and graceful shutdown). */
  readonly settled = (): Promise<void> => {
    this.flush()
    return this.file.drained()
  }

  private flush(): void {
    if (this.ts.out.length === 0) return
    const bytes = this.ts.out.take()
    void this.file.write(bytes, this.written)
    this.written += bytes.byteLength
  }
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.byteLength + b.byteLength)
  out.set(a, 0)
  out.set(b, a.byteLength)
  return out
}
