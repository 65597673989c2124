/**
 * Heap retained per sample and throughput of Capstan's Mp4Recorder against mediabunny's Mp4OutputFormat
 * ({ fastStart: false }) on the same synthetic 1080p30 H.264 + 44.1 kHz AAC packets.
 * Run: `npx node --expose-gc bench/mp4-memory.ts [runs]`; each measurement runs in a fresh child process.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import {
  EncodedAudioPacketSource,
  EncodedPacket,
  EncodedVideoPacketSource,
  FilePathTarget,
  Mp4OutputFormat,
  Output
} from "mediabunny"
import { Mp4Recorder } from "../src/containers/isobmff/index.ts"
import type { AudioTrack, VideoTrack } from "../src/media/frame.ts"

const FPS = 30
const AUDIO_RATE = 44100
/** 1080p High profile SPS/PPS of a libx264 encode (the RTMP tests' vector), as an avcC (14496-15 5.3.3.1.2). */
const SPS = Buffer.from("67640028acd940780227e5c044000003000400000300c83c60c658", "hex")
const PPS = Buffer.from("68ebe3cb22c0", "hex")
const AVCC = Buffer.concat([
  Buffer.from([1, SPS[1]!, SPS[2]!, SPS[3]!, 0xff, 0xe1, 0, SPS.length]), SPS, Buffer.from([1, 0, PPS.length]), PPS
])
const ASC = Uint8Array.of(0x12, 0x10) // AAC-LC, 44.1 kHz, stereo

const video: VideoTrack = { kind: "video", codec: "H264", timescale: 1000, width: 1920, height: 1080, config: AVCC }
const audio: AudioTrack = {
  kind: "audio",
  codec: "AAC",
  timescale: 1000,
  sampleRate: AUDIO_RATE,
  channels: 2,
  config: ASC
}

interface Packet {
  readonly track: 0 | 1
  readonly dts: number
  readonly pts: number
  readonly keyframe: boolean
  readonly data: Uint8Array
}

/**
 * Packets of `seconds` of recording in RTMP order and millisecond timestamps, B-frames (pts = dts + 66 ms).
 * `realistic` sizes are 3 Mbit/s video (keyframe every 2 s) and 128 kbit/s audio; otherwise tiny payloads, since
 * the memory measurement is about sample tables. Payloads are reused: only the tables are retained.
 */
function* packets(seconds: number, realistic: boolean): Generator<Packet> {
  const nal = (size: number, type: number) => {
    const b = new Uint8Array(size)
    new DataView(b.buffer).setUint32(0, size - 4)
    b[4] = type
    return b
  }
  const key = nal(realistic ? 150_000 : 64, 0x65)
  const delta = nal(realistic ? 10_000 : 32, 0x41)
  const aac = new Uint8Array(realistic ? 371 : 16)
  const videoFrames = seconds * FPS
  const audioFrames = Math.floor((seconds * AUDIO_RATE) / 1024)
  let a = 0
  for (let v = 0; v < videoFrames; v++) {
    const t = Math.round((v * 1000) / FPS)
    for (; a < audioFrames && Math.round((a * 1024 * 1000) / AUDIO_RATE) <= t; a++) {
      const at = Math.round((a * 1024 * 1000) / AUDIO_RATE)
      yield { track: 1, dts: at, pts: at, keyframe: true, data: aac }
    }
    const keyframe = v % (2 * FPS) === 0
    yield { track: 0, dts: t, pts: t + 66, keyframe, data: keyframe ? key : delta }
  }
}

const gc = () => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run with --expose-gc")
  collect()
  collect()
}

/** Heap plus ArrayBuffer backing stores (typed arrays live outside the JS heap). */
const retained = () => {
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

interface Result {
  readonly samples: number
  /** Retained growth over the whole run divided by its samples (includes fixed buffers). */
  readonly bytesPerSample: number
  /** Growth over the second half of the run per sample: the cost of one more sample. */
  readonly marginalBytesPerSample: number
  readonly packetsPerSecond: number
  readonly pushMBps: number
  readonly finalizeMBps: number
  readonly finalizeMs: number
}

/** Counts pushes, snapshots the retained memory halfway, and keeps the garbage collection out of the timing. */
class Meter {
  readonly #half: number
  readonly #baseline = retained()
  #atHalf = 0
  #gcMs = 0
  #started = 0
  samples = 0
  bytes = 0

  constructor(seconds: number) {
    this.#half = Math.floor((seconds * FPS + (seconds * AUDIO_RATE) / 1024) / 2)
  }

  start(): void {
    this.#started = performance.now()
  }

  count(size: number): void {
    this.samples++
    this.bytes += size
    if (this.samples === this.#half) {
      const before = performance.now()
      this.#atHalf = retained()
      this.#gcMs += performance.now() - before
    }
  }

  /** Call after the last push, then run the finalize. */
  async finish(finalize: () => Promise<unknown>): Promise<Result> {
    const pushMs = performance.now() - this.#started - this.#gcMs
    const end = retained()
    const before = performance.now()
    await finalize()
    const finalizeMs = performance.now() - before
    return {
      samples: this.samples,
      bytesPerSample: (end - this.#baseline) / this.samples,
      marginalBytesPerSample: (end - this.#atHalf) / (this.samples - this.#half),
      packetsPerSecond: this.samples / (pushMs / 1000),
      pushMBps: this.bytes / 1e6 / (pushMs / 1000),
      finalizeMBps: this.bytes / 1e6 / (finalizeMs / 1000),
      finalizeMs
    }
  }
}

const ours = (moovFirst: boolean) => async (dir: string, seconds: number, realistic: boolean): Promise<Result> => {
  const meter = new Meter(seconds)
  const recorder = await Effect.runPromise(
    Mp4Recorder.open({ tmpPath: path.join(dir, "ours.mp4.tmp"), tracks: [video, audio], creationTime: Date.now() })
  )
  meter.start()
  for (const p of packets(seconds, realistic)) {
    const kind = p.track === 0 ? "video" : "audio"
    const error = recorder.push(p.track, { kind, dts: p.dts, pts: p.pts, keyframe: p.keyframe, data: p.data })
    if (error !== undefined) throw error
    meter.count(p.data.length)
  }
  return meter.finish(() => Effect.runPromise(recorder.finalize({ finalPath: path.join(dir, "ours.mp4"), moovFirst })))
}

const theirs = async (dir: string, seconds: number, realistic: boolean): Promise<Result> => {
  const meter = new Meter(seconds)
  const output = new Output({
    format: new Mp4OutputFormat({ fastStart: false }),
    target: new FilePathTarget(path.join(dir, "mb.mp4"))
  })
  const videoSource = new EncodedVideoPacketSource("avc")
  const audioSource = new EncodedAudioPacketSource("aac")
  output.addVideoTrack(videoSource)
  output.addAudioTrack(audioSource)
  await output.start()
  let videoStarted = false
  let audioStarted = false
  meter.start()
  for (const p of packets(seconds, realistic)) {
    if (p.track === 0) {
      const packet = new EncodedPacket(p.data, p.keyframe ? "key" : "delta", p.pts / 1000, 1 / FPS)
      const config = { decoderConfig: { codec: "avc1.640028", codedWidth: 1920, codedHeight: 1080, description: AVCC } }
      await videoSource.add(packet, videoStarted ? undefined : config)
      videoStarted = true
    } else {
      const packet = new EncodedPacket(p.data, "key", p.dts / 1000, 1024 / AUDIO_RATE)
      const decoderConfig = { codec: "mp4a.40.2", numberOfChannels: 2, sampleRate: AUDIO_RATE, description: ASC }
      const config = { decoderConfig }
      await audioSource.add(packet, audioStarted ? undefined : config)
      audioStarted = true
    }
    meter.count(p.data.length)
  }
  return meter.finish(() => output.finalize())
}

const child = async (writer: string, seconds: number, realistic: boolean) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-mp4-bench-"))
  try {
    const run = writer === "ours-moov-first" ? ours(true) : writer === "ours-moov-last" ? ours(false) : theirs
    const result = await run(dir, seconds, realistic)
    process.stdout.write(JSON.stringify(result))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const main = (runs: number) => {
  const cases = [
    { label: "Capstan Mp4Recorder, 1 h, tiny payloads", writer: "ours-moov-first", seconds: 3600, realistic: false },
    { label: "mediabunny fastStart:false, 10 min, tiny payloads", writer: "theirs", seconds: 600, realistic: false },
    { label: "mediabunny fastStart:false, 1 h, tiny payloads", writer: "theirs", seconds: 3600, realistic: false },
    {
      label: "Capstan Mp4Recorder, 5 min, 3 Mbit/s, moov first (copy)",
      writer: "ours-moov-first",
      seconds: 300,
      realistic: true
    },
    {
      label: "Capstan Mp4Recorder, 5 min, 3 Mbit/s, moov last (in place)",
      writer: "ours-moov-last",
      seconds: 300,
      realistic: true
    },
    {
      label: "mediabunny fastStart:false, 5 min, 3 Mbit/s (moov last)",
      writer: "theirs",
      seconds: 300,
      realistic: true
    }
  ]
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${runs} runs each, medians\n`)
  const columns = [
    "writer and run", "samples", "retained B/sample (whole run)", "B/sample (2nd half)", "packets/s", "push MB/s",
    "finalize", "finalize MB/s"
  ]
  console.log(`| ${columns.join(" | ")} |`)
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
  for (const c of cases) {
    const results: Array<Result> = []
    for (let i = 0; i < runs; i++) {
      const args = ["--expose-gc", import.meta.filename, "child", c.writer, String(c.seconds), String(c.realistic)]
      const run = spawnSync(process.execPath, args, {
        encoding: "utf8",
        timeout: 600_000,
        maxBuffer: 1024 * 1024
      })
      if (run.status !== 0) throw new Error(`${c.label}: ${run.stderr}`)
      results.push(JSON.parse(run.stdout))
    }
    const m = (f: (r: Result) => number) => median(results.map(f))
    console.log(
      `| ${c.label} | ${m((r) => r.samples)} | ${m((r) => r.bytesPerSample).toFixed(1)} | ` +
        `${m((r) => r.marginalBytesPerSample).toFixed(1)} | ${Math.round(m((r) => r.packetsPerSecond))} | ` +
        `${m((r) => r.pushMBps).toFixed(0)} | ` +
        `${m((r) => r.finalizeMs).toFixed(0)} ms | ${m((r) => r.finalizeMBps).toFixed(0)} |`
    )
  }
}

if (process.argv[2] === "child") {
  await child(process.argv[3]!, Number(process.argv[4]), process.argv[5] === "true")
} else {
  main(Number(process.argv[2] ?? 3))
}
