/**
 * A streaming MPEG-TS demuxer (ISO/IEC 13818-1) for one single-program publication: bytes in, the core's tracks and
 * frames out. It follows the PAT and PMT, reassembles the PES packets of the first H.264 and the first AAC stream,
 * checks continuity counters, and maps timestamps onto one monotonic timeline. Plain step functions, no Effect.
 */
import type { Frame, Track } from "../../media/frame.ts"
import { AAC_SAMPLES_PER_FRAME, AdtsFrames } from "./adts-frames.ts"
import { H264AccessUnits } from "./h264-access-units.ts"
import { parsePes, PesAssembler } from "./pes-packets.ts"
import {
  PAT_PID,
  parsePat,
  parsePmt,
  type PmtStream,
  SectionAssembler,
  sectionCrcValid,
  sectionHeader,
  STREAM_TYPE_AAC_ADTS,
  STREAM_TYPE_H264,
  TABLE_PAT,
  TABLE_PMT
} from "./psi-sections.ts"
import { TimestampTimeline, TS_CLOCK } from "./timestamp-timeline.ts"
import * as Ts from "./ts-packet-sync.ts"

/** Where the demuxer hands its output: the Publication's synchronous track()/frame() fit as they are. */
export interface DemuxSink {
  readonly track: (track: Track) => void
  readonly frame: (frame: Frame) => void
}

export interface TsDemuxerOptions {
  /** A timestamp this far from the last one (or any DTS going backwards) is a sender restart. Default 5 s. */
  readonly jumpMillis?: number
}

export interface MpegTsCounters {
  /** Transport packets taken in (null packets and packets with transport_error_indicator left out). */
  readonly packets: number
  readonly garbageBytes: number
  readonly syncLosses: number
  readonly transportErrors: number
  /** Continuity counter gaps (lost packets); the PES in progress on that PID is dropped. */
  readonly ccErrors: number
  /** PAT/PMT sections whose CRC_32 did not check; they are ignored. */
  readonly crcErrors: number
  /** PAT/PMT sections that passed the CRC but do not parse. */
  readonly tableErrors: number
  /** PES packets that were cut short or do not parse, or carry no PTS. */
  readonly pesErrors: number
  /** Bytes inside AAC PES payloads that are not ADTS frames. */
  readonly adtsGarbageBytes: number
  /** Elementary stream data that does not parse: runs of non-ADTS bytes, SPS without a picture size. */
  readonly esErrors: number
  /** Video access units dropped before the first SPS and PPS. */
  readonly framesBeforeConfig: number
  readonly videoFrames: number
  readonly audioFrames: number
  /** Times the timestamps jumped (a restarted sender) and the timeline was re-anchored. */
  readonly timestampJumps: number
  /** PAT or PMT changes after the first ones. */
  readonly tableChanges: number
}

/** The counters that mean something arrived broken (what `errors` in the REST listing adds up). */
export const errorCount = (c: MpegTsCounters): number =>
  c.syncLosses + c.transportErrors + c.ccErrors + c.crcErrors + c.tableErrors + c.pesErrors + c.esErrors

type StreamKind = "video" | "audio"

interface ElementaryStream {
  readonly pid: number
  readonly streamType: number
  readonly kind: StreamKind
  readonly pes: PesAssembler
}

const NO_SINK: DemuxSink = { track: () => {}, frame: () => {} }

export class TsDemuxer {
  private readonly sync = new Ts.TsPacketSync()
  private readonly continuity = new Int8Array(8192).fill(-1)
  private readonly pat = new SectionAssembler()
  private readonly pmt = new SectionAssembler()
  private pmtPid = -1
  private programNumber = -1
  private patVersion = -1
  private pmtVersion = -1
  private streams = new Map<number, ElementaryStream>()
  private readonly video = new H264AccessUnits()
  private readonly audio = new AdtsFrames()
  private readonly timeline: TimestampTimeline
  private lastVideoDts = -1
  private videoStep = TS_CLOCK / 30
  private lastAudioPts = -Infinity
  private sink: DemuxSink = NO_SINK
  private now = 0
  private readonly handlePacket = (bytes: Uint8Array, at: number) => this.packet(bytes, at)
  private counts = {
    packets: 0, transportErrors: 0, ccErrors: 0, crcErrors: 0, tableErrors: 0, pesErrors: 0,
    videoFrames: 0, audioFrames: 0, tableChanges: 0
  }
  /** The last problem met, in words, for the (rate-limited) log line. */
  lastProblem: string | undefined

  constructor(options: TsDemuxerOptions = {}) {
    this.timeline = new TimestampTimeline(((options.jumpMillis ?? 5000) * TS_CLOCK) / 1000)
  }

  /** Demuxes one chunk of the byte stream received at `nowMillis`, handing tracks and frames to `sink`. */
  push(chunk: Uint8Array, nowMillis: number, sink: DemuxSink): void {
    this.sink = sink
    this.now = nowMillis
    const losses = this.sync.counters.syncLosses
    const adtsRuns = this.audio.garbageRuns
    this.sync.push(chunk, this.handlePacket)
    if (this.sync.counters.syncLosses > losses) this.problem("bytes that are not transport packets (no sync byte)")
    if (this.audio.garbageRuns > adtsRuns) this.problem("AAC data that is not ADTS frames")
    this.sink = NO_SINK
  }

  /** The stream ended: hands on the PES packets that only the next one would have ended (unbounded video). */
  flush(nowMillis: number, sink: DemuxSink): void {
    this.sink = sink
    this.now = nowMillis
    this.sync.end(this.handlePacket)
    for (const stream of this.streams.values()) {
      if (stream.pes.endsAtNextStart) this.deliver(stream, stream.pes.take())
      else stream.pes.drop()
    }
    this.sink = NO_SINK
  }

  get counters(): MpegTsCounters {
    return {
      ...this.counts,
      garbageBytes: this.sync.counters.garbageBytes,
      syncLosses: this.sync.counters.syncLosses,
      adtsGarbageBytes: this.audio.garbageBytes,
      esErrors: this.audio.garbageRuns + this.video.badSps,
      framesBeforeConfig: this.video.waitingForConfig,
      timestampJumps: this.timeline.restarts
    }
  }

  private problem(message: string): void {
    this.lastProblem = message
  }

  private packet(bytes: Uint8Array, at: number): void {
    if (Ts.transportError(bytes, at)) {
      this.counts.transportErrors++
      return this.problem("packet with transport_error_indicator set")
    }
    const pid = Ts.packetPid(bytes, at)
    if (pid === Ts.NULL_PID) return
    this.counts.packets++
    if (!Ts.hasPayload(bytes, at)) return
    const cc = Ts.continuityCounter(bytes, at)
    const last = this.continuity[pid]!
    this.continuity[pid] = cc
    if (last >= 0 && !Ts.discontinuity(bytes, at)) {
      if (cc === last) return // A duplicate packet (2.4.3.3): sent twice on purpose, used once.
      if (cc !== ((last + 1) & 0x0f)) this.lost(pid)
    }
    const start = Ts.payloadOffset(bytes, at)
    if (start < 0) {
      this.counts.transportErrors++
      return this.problem(`packet on PID ${pid} with an adaptation field longer than the packet`)
    }
    const payload = bytes.subarray(start, at + Ts.TS_PACKET_SIZE)
    const unitStart = Ts.payloadUnitStart(bytes, at)
    if (pid === PAT_PID) return this.pat.push(payload, unitStart, (section) => this.patSection(section))
    if (pid === this.pmtPid) return this.pmt.push(payload, unitStart, (section) => this.pmtSection(section))
    const stream = this.streams.get(pid)
    if (stream === undefined) return
    if (unitStart) {
      if (stream.pes.endsAtNextStart) this.deliver(stream, stream.pes.take())
      else if (stream.pes.inProgress) this.badPes(`PES on PID ${pid} cut short by the next one`)
      stream.pes.start(payload)
    } else {
      stream.pes.append(payload)
    }
    if (stream.pes.complete) this.deliver(stream, stream.pes.take())
  }

  /** A continuity counter gap: whatever was being gathered on the PID is incomplete. */
  private lost(pid: number): void {
    this.counts.ccErrors++
    this.problem(`continuity counter gap on PID ${pid} (lost packets)`)
    if (pid === PAT_PID) return this.pat.reset()
    if (pid === this.pmtPid) return this.pmt.reset()
    const stream = this.streams.get(pid)
    if (stream === undefined) return
    stream.pes.drop()
    if (stream.kind === "audio") this.audio.dropCarry()
  }

  private checkedSection(section: Uint8Array, tableId: number) {
    if (!sectionCrcValid(section)) {
      this.counts.crcErrors++
      this.problem(`table 0x${tableId.toString(16)} with a bad CRC_32`)
      return undefined
    }
    const header = sectionHeader(section)
    return header !== undefined && header.tableId === tableId && header.currentNext ? header : undefined
  }

  private patSection(section: Uint8Array): void {
    const header = this.checkedSection(section, TABLE_PAT)
    if (header === undefined) return
    const program = parsePat(section)[0]
    if (program === undefined) {
      this.counts.tableErrors++
      return this.problem("PAT without a program")
    }
    if (header.version === this.patVersion && program.pmtPid === this.pmtPid) return
    if (this.patVersion >= 0) this.counts.tableChanges++
    this.patVersion = header.version
    this.programNumber = program.programNumber
    if (program.pmtPid !== this.pmtPid) {
      this.pmtPid = program.pmtPid
      this.pmtVersion = -1
      this.pmt.reset()
    }
  }

  private pmtSection(section: Uint8Array): void {
    const header = this.checkedSection(section, TABLE_PMT)
    if (header === undefined || header.id !== this.programNumber) return
    const pmt = parsePmt(section)
    if (pmt === undefined) {
      this.counts.tableErrors++
      return this.problem("PMT whose stream loop overruns the section")
    }
    const chosen = chooseStreams(pmt.streams)
    if (header.version === this.pmtVersion && sameStreams(chosen, this.streams)) return
    if (this.pmtVersion >= 0 || this.streams.size > 0) this.counts.tableChanges++
    this.pmtVersion = header.version
    const previous = this.streams
    const streams = new Map<number, ElementaryStream>()
    for (const { pid, streamType, kind } of chosen) {
      const kept = this.streams.get(pid)
      streams.set(pid, kept?.streamType === streamType ? kept : { pid, streamType, kind, pes: new PesAssembler() })
    }
    this.streams = streams
    // A stream the new PMT leaves out ends here; its last unbounded PES is as whole as it will get.
    for (const [pid, stream] of previous) {
      if (streams.get(pid) === stream) continue
      if (stream.pes.endsAtNextStart) this.deliver(stream, stream.pes.take())
      else stream.pes.drop()
    }
  }

  private badPes(message: string): void {
    this.counts.pesErrors++
    this.problem(message)
  }

  private deliver(stream: ElementaryStream, bytes: Uint8Array): void {
    const pes = parsePes(bytes)
    if (typeof pes === "string") return this.badPes(`${pes} on PID ${stream.pid}`)
    if (pes.pts < 0) return this.badPes(`PES without a PTS on PID ${stream.pid}`)
    if (stream.kind === "video") this.videoUnit(pes.payload, pes.dts, pes.pts)
    else this.audioFrames(pes.payload, pes.pts)
  }

  private videoUnit(payload: Uint8Array, rawDts: number, rawPts: number): void {
    const unit = this.video.push(payload)
    if (unit === undefined) return
    const { dts, pts } = this.timeline.map("video", rawDts, rawPts, this.now)
    const step = dts - this.lastVideoDts
    if (this.lastVideoDts >= 0 && step > 0 && step < TS_CLOCK) this.videoStep = step
    this.lastVideoDts = dts
    this.timeline.ended("video", dts + this.videoStep)
    if (unit.track !== undefined) this.sink.track(unit.track)
    this.counts.videoFrames++
    this.sink.frame({ kind: "video", dts, pts, keyframe: unit.keyframe, data: unit.data })
  }

  private audioFrames(payload: Uint8Array, rawPts: number): void {
    const run = this.audio.push(payload)
    if (run.frames.length === 0) return
    const { pts: start } = this.timeline.map("audio", rawPts, rawPts, this.now)
    let end = start
    run.frames.forEach((frame, i) => {
      const index = run.carried ? i - 1 : i
      const sampleRate = frame.sampleRate
      if (frame.track !== undefined) {
        this.lastAudioPts = -Infinity // A new track may count in another timescale.
        this.sink.track(frame.track)
      }
      // Rounding each PES's PTS to samples may land one sample before the last frame; never go backwards.
      const exact = Math.round((start * sampleRate) / TS_CLOCK) + index * AAC_SAMPLES_PER_FRAME
      const pts = Math.max(exact, this.lastAudioPts)
      this.lastAudioPts = pts
      end = start + ((index + 1) * AAC_SAMPLES_PER_FRAME * TS_CLOCK) / sampleRate
      this.counts.audioFrames++
      this.sink.frame({ kind: "audio", dts: pts, pts, keyframe: true, data: frame.data })
    })
    this.timeline.ended("audio", Math.round(end))
  }
}

interface ChosenStream extends PmtStream {
  readonly kind: StreamKind
}

/** The first H.264 and the first ADTS AAC stream of the program; the others are not demuxed. */
const chooseStreams = (streams: ReadonlyArray<PmtStream>): Array<ChosenStream> => {
  const video = streams.find((s) => s.streamType === STREAM_TYPE_H264)
  const audio = streams.find((s) => s.streamType === STREAM_TYPE_AAC_ADTS)
  const chosen: Array<ChosenStream> = []
  if (video !== undefined) chosen.push({ ...video, kind: "video" })
  if (audio !== undefined) chosen.push({ ...audio, kind: "audio" })
  return chosen
}

const sameStreams = (chosen: ReadonlyArray<ChosenStream>, current: ReadonlyMap<number, ElementaryStream>): boolean =>
  chosen.length === current.size && chosen.every((s) => current.get(s.pid)?.streamType === s.streamType)
