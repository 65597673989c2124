/**
 * One long ffmpeg run (a mix): progress from `-progress pipe:1` (its out_time_us lines), and a graceful stop
 * by writing `q` to its stdin, after which ffmpeg finishes the file it is writing so that it plays. If the caller is
 * interrupted, the scope kills ffmpeg with SIGTERM, which ffmpeg also treats as "finish the file and exit".
 */
import { Deferred, Duration, Effect, Exit, Fiber, Queue, Stream } from "effect"
import type * as Cause from "effect/Cause"
import { ChildProcess } from "effect/process"
import { MixerError } from "./mixer-error.ts"

export interface FfmpegJobOptions {
  readonly ffmpegPath: string
  readonly args: ReadonlyArray<string>
  /** Called with the media seconds written, as ffmpeg reports them (about twice a second). */
  readonly onProgress?: (seconds: number) => Effect.Effect<void>
  /** When this completes, ffmpeg is asked to stop (`q`) and the job ends "stopped" with its reason. */
  readonly stop?: Deferred.Deferred<string>
  /** How long ffmpeg may take to finish its file after `q` before it is killed. Default 30 s. */
  readonly stopGrace?: Duration.Input
}

export interface FfmpegJobResult {
  readonly exitCode: number
  /** The stop's reason when the job was stopped through `stop`. */
  readonly stopped: string | undefined
  /** The end of ffmpeg's stderr (it runs with -loglevel error, so this is its errors). */
  readonly stderr: string
}

/** Bytes of stderr kept. */
const STDERR_TAIL = 4096

/** The media time in one `-progress` line (`out_time_us=1966732`), or undefined for other keys. */
export const progressSeconds = (line: string): number | undefined => {
  const match = /^out_time_(?:us|ms)=(\d+)\s*$/.exec(line)
  return match === null ? undefined : Number(match[1]) / 1_000_000
}

/** Runs ffmpeg to its end; fails only when it cannot be started. */
export const runFfmpegJob = Effect.fn("FfmpegJob.run")(function*(options: FfmpegJobOptions) {
  return yield* Effect.scoped(Effect.gen(function*() {
    const stdin = yield* Queue.unbounded<Uint8Array, Cause.Done>()
    const handle = yield* ChildProcess.make(options.ffmpegPath, options.args, {
      stdin: { stream: Stream.fromQueue(stdin), endOnDone: true },
      stdout: "pipe",
      stderr: "pipe",
      killSignal: "SIGTERM",
      forceKillAfter: Duration.seconds(5)
    }).pipe(Effect.mapError((error) =>
      new MixerError({ reason: "FfmpegFailed", message: `ffmpeg could not be started: ${error.message}` })
    ))
    const onProgress = options.onProgress ?? (() => Effect.void)
    const stdout = yield* handle.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => {
        const seconds = progressSeconds(line)
        return seconds === undefined ? Effect.void : onProgress(seconds)
      }),
      Effect.ignore,
      Effect.forkScoped
    )
    let stderr = ""
    const stderrFiber = yield* handle.stderr.pipe(
      Stream.decodeText(),
      Stream.runForEach((text) => Effect.sync(() => (stderr = (stderr + text).slice(-STDERR_TAIL)))),
      Effect.ignore,
      Effect.forkScoped
    )
    let stopped: string | undefined
    if (options.stop !== undefined) {
      const stop = options.stop
      yield* Deferred.await(stop).pipe(
        Effect.flatMap((reason) =>
          Effect.sync(() => {
            stopped = reason
            Queue.offerUnsafe(stdin, new TextEncoder().encode("q"))
          })
        ),
        Effect.andThen(Effect.sleep(options.stopGrace ?? Duration.seconds(30))),
        Effect.andThen(handle.kill({ killSignal: "SIGKILL" })),
        Effect.ignore,
        Effect.forkScoped
      )
    }
    const exit = yield* Effect.exit(handle.exitCode)
    yield* Fiber.awaitAll([stdout, stderrFiber]).pipe(Effect.timeoutOption(Duration.seconds(2)))
    const exitCode = Exit.isSuccess(exit) ? Number(exit.value) : -1
    return { exitCode, stopped, stderr: stderr.trim() } satisfies FfmpegJobResult
  }))
})
