/**
 * Transcodes audio a recording's container cannot keep, through a supervised ffmpeg child: Opus and G.711 to AAC-LC
 * for MP4, AAC (and G.711) to Opus for WebM. push() never blocks: frames wait in a bounded queue drained into
 * ffmpeg's stdin and are dropped (and counted) when ffmpeg falls behind; what ffmpeg writes on stdout becomes frames
 * on the input's timeline (transcoder-output.ts).
 *
 * Timing: gaps in the input are filled with silence before ffmpeg sees them, so the stream never drifts, and
 * TranscoderTimeline maps output sample positions back onto the input clock; each output reader accounts for its
 * encoder's delay (AAC's priming frame, Opus's pre-skip).
 */
import { Cause, Context, Duration, Effect, Exit, Fiber, Layer, Option, Queue, Schema, Scope, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import type { AudioTrack, Frame } from "../media/frame.ts"
import { outputTrack, type TranscodeTarget, transcoderArgs } from "./transcoder-command.ts"
import { transcoderInput } from "./transcoder-input.ts"
import { aacOutput, opusOutput } from "./transcoder-output.ts"
import { DROP, TranscoderTimeline } from "./transcoder-timeline.ts"

export const TranscoderErrorReason = Schema.Literals([
  /** The input codec is not one the transcoder takes (OPUS, PCMA, PCMU, AAC), or is the target already. */
  "UnsupportedInput",
  /** The configured output rate or channel count has no configuration in the target codec. */
  "UnsupportedOutput",
  /** ffmpeg could not be started (missing binary, no permission). */
  "SpawnFailed"
])

export class TranscoderError extends Schema.TaggedError<TranscoderError>()("TranscoderError", {
  reason: TranscoderErrorReason,
  message: Schema.String
}, { httpApiStatus: 500 }) {}

export interface TranscoderOptions {
  readonly input: AudioTrack
  /** What to write: AAC (the default) or Opus. */
  readonly target?: TranscodeTarget | undefined
  /** record_audio_codec_sample_rate; AAC only (Opus is always 48 kHz). */
  readonly sampleRate: number
  /** record_audio_codec_channels (Opus: at most 2). */
  readonly channels: number
  /** record_fdk_aac_bitrate_mode (0 CBR, 1-5 VBR; mapping in transcoder-command.ts); AAC only. */
  readonly bitrateMode: number
  readonly ffmpegPath: string
  /** Each output frame (raw AAC without ADTS, or one Opus packet), dts = pts in the output timescale. */
  readonly onFrame: (frame: Frame) => void
  /** Called once, before any frame, with `output`. */
  readonly onTrack?: (track: AudioTrack) => void
  /** ffmpeg died or wrote something other than what was asked; called at most once per transcoder. */
  readonly onError?: (message: string) => void
  /** Pushes waiting for ffmpeg's stdin before audio is dropped. Default 500 (10 s of 20 ms packets). */
  readonly queueCapacity?: number
  /** Input gaps up to this long are filled with silence; longer ones move the output timestamps. Default 10 s. */
  readonly maxGapFillSeconds?: number
  /** How long close() waits for ffmpeg to flush the tail before killing it. Default 5 s. */
  readonly closeTimeout?: Duration.Input
}

export interface TranscoderStats {
  /** Frames given to push(). */
  readonly pushed: number
  /** Frames dropped because the queue was full or ffmpeg had stopped. */
  readonly dropped: number
  /** Frames dropped because they lay wholly before what was already fed (duplicates, late packets). */
  readonly late: number
  /** Frames whose data could not be fed (empty, malformed Opus TOC). */
  readonly malformed: number
  /** Samples of silence inserted into input gaps (input rate). */
  readonly filledSamples: number
  /** Input gaps too long to fill, and backward jumps of the input clock. */
  readonly jumps: number
  /** Output frames handed to onFrame. */
  readonly framesOut: number
  /** Pushes waiting in the queue for ffmpeg's stdin now. */
  readonly queued: number
}

export interface Transcoder {
  /** The track the frames belong to, known up front from the settings (AAC: with its AudioSpecificConfig). */
  readonly output: AudioTrack
  /** The ffmpeg child's process id. */
  readonly pid: number
  /** Queues one input frame (dts/pts in `input.timescale`); returns at once, whatever ffmpeg is doing. */
  readonly push: (frame: Frame) => void
  readonly stats: () => TranscoderStats
  /** Ends stdin, waits (bounded) for the last frames, then stops ffmpeg. Idempotent. */
  readonly close: Effect.Effect<void>
}

const KILL = { killSignal: "SIGTERM", forceKillAfter: Duration.millis(500) } as const
/** Bytes of ffmpeg's stderr kept for error messages. */
const STDERR_TAIL = 2048

const spawnFailed = (error: { readonly message: string }) =>
  new TranscoderError({ reason: "SpawnFailed", message: `ffmpeg could not be started: ${error.message}` })

/** Starts one ffmpeg for one recording; the child is killed when the scope closes, if close() has not run. */
export const startTranscoder = Effect.fn("AudioTranscoder.start")(function*(options: TranscoderOptions) {
  const target = options.target ?? "AAC"
  if (options.input.codec === target) {
    return yield* new TranscoderError({ reason: "UnsupportedInput", message: `${target} is ${target} already` })
  }
  const input = transcoderInput(options.input)
  if (typeof input === "string") return yield* new TranscoderError({ reason: "UnsupportedInput", message: input })
  const output = outputTrack(target, options)
  if (typeof output === "string") return yield* new TranscoderError({ reason: "UnsupportedOutput", message: output })
  const capacity = Math.max(1, options.queueCapacity ?? 500)
  const queue = yield* Queue.dropping<Uint8Array, Cause.Done>(capacity)
  Queue.offerUnsafe(queue, input.header)

  const args = transcoderArgs(input, { ...options, target, channels: output.channels })
  const handle = yield* ChildProcess.make(options.ffmpegPath, args, {
    stdin: { stream: Stream.fromQueue(queue), endOnDone: true },
    stdout: "pipe",
    stderr: "pipe",
    ...KILL
  }).pipe(Effect.mapError(spawnFailed))
  yield* Effect.logDebug(`ffmpeg ${handle.pid}: ${args.join(" ")}`)

  const timeline = new TranscoderTimeline({
    inputRate: input.rate,
    inputTimescale: options.input.timescale,
    outputRate: output.sampleRate,
    silenceUnit: input.silenceUnit,
    maxFillSamples: Math.round((options.maxGapFillSeconds ?? 10) * input.rate)
  })
  const counts = { pushed: 0, dropped: 0, malformed: 0 }
  let state: "running" | "closing" | "failed" = "running"
  let reported = false
  const report = (message: string) => {
    if (reported) return
    reported = true
    options.onError?.(message)
  }
  /** The transcoder is dead while running: say so once and refuse pushes from now on. */
  const fail = (message: string) => {
    if (state !== "running") return
    state = "failed"
    report(message)
  }

  // stdout: ADTS or Ogg -> frames on the input's timeline.
  const context = {
    timeline,
    fedOutputSamples: () => (timeline.fed * output.sampleRate) / input.rate,
    onFrame: options.onFrame,
    report
  }
  const reader = target === "OPUS" ? opusOutput(output, context) : aacOutput(output, context)
  const stdout = yield* handle.stdout.pipe(
    Stream.runForEachArray((chunks) => Effect.sync(() => chunks.forEach((chunk) => reader.push(chunk)))),
    // A throwing onFrame must not leave ffmpeg blocked on a stdout nobody reads without anyone hearing of it.
    Effect.catchCause((cause) => Effect.sync(() => fail(`reading ffmpeg's ${target} failed: ${Cause.pretty(cause)}`))),
    Effect.forkScoped
  )
  let stderrTail = ""
  const stderr = yield* handle.stderr.pipe(
    Stream.decodeText(),
    Stream.runForEach((text) => Effect.sync(() => (stderrTail = (stderrTail + text).slice(-STDERR_TAIL)))),
    Effect.ignore,
    Effect.forkScoped
  )
  // A death before close() is an error of the recording; after close() it is the end we asked for.
  yield* handle.exitCode.pipe(
    Effect.exit,
    Effect.tap(() => Fiber.awaitAll([stdout, stderr]).pipe(Effect.timeoutOption(Duration.seconds(1)))),
    Effect.flatMap((exit) => Effect.sync(() => {
      const how = Exit.isSuccess(exit) ? `exited with code ${exit.value}` : "was killed"
      const detail = stderrTail.trim().split("\n").slice(-3).join(" | ")
      fail(`ffmpeg ${handle.pid} ${how}${detail === "" ? "" : `: ${detail}`}`)
    })),
    Effect.forkScoped
  )
  options.onTrack?.(output)

  const push = (frame: Frame): void => {
    counts.pushed++
    if (state !== "running" || Queue.sizeUnsafe(queue) >= capacity) {
      counts.dropped++
      return
    }
    const samples = input.samples(frame.data)
    if (samples === 0) {
      counts.malformed++
      return
    }
    const silence = timeline.place(frame.pts, samples)
    if (silence === DROP) return
    const trim = input.canTrim ? timeline.overlap : 0
    Queue.offerUnsafe(queue, input.encode(frame.data, silence, trim))
    timeline.advance(silence + samples - trim)
  }

  const stats = (): TranscoderStats => ({
    ...counts,
    framesOut: reader.framesOut(),
    late: timeline.lateFrames,
    filledSamples: timeline.filledSamples,
    jumps: timeline.jumps,
    queued: Queue.sizeUnsafe(queue)
  })

  const close = Effect.gen(function*() {
    if (state === "closing") return
    const failed = state === "failed"
    state = "closing"
    Queue.endUnsafe(queue)
    if (!failed) {
      const flushed = yield* Fiber.await(stdout).pipe(Effect.timeoutOption(options.closeTimeout ?? Duration.seconds(5)))
      if (Option.isNone(flushed)) yield* Effect.logWarning(`ffmpeg ${handle.pid} did not finish in time; killing it`)
    }
    yield* Effect.ignore(handle.kill(KILL))
    yield* Fiber.interrupt(stdout)
    const s = stats()
    if (s.dropped + s.late + s.malformed > 0) {
      yield* Effect.logWarning(
        `ffmpeg ${handle.pid}: dropped ${s.dropped} frames (queue full or ffmpeg gone), ${s.late} late, ` +
          `${s.malformed} malformed of ${s.pushed}`
      )
    }
  }).pipe(Effect.withSpan("AudioTranscoder.close"))

  return { output, pid: handle.pid, push, stats, close } satisfies Transcoder
})

/** Starts transcoders with the platform's process spawner (NodeServices.layer provides it). */
export class AudioTranscoder extends Context.Service<AudioTranscoder, {
  readonly start: (options: TranscoderOptions) => Effect.Effect<Transcoder, TranscoderError, Scope.Scope>
}>()("capstan/pipelines/AudioTranscoder") {
  static readonly layer = Layer.effect(
    AudioTranscoder,
    Effect.gen(function*() {
      const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
      return AudioTranscoder.of({
        start: (options) =>
          startTranscoder(options).pipe(Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner))
      })
    })
  )
}
