/**
 * Runs a short tool (ffprobe, a one-shot ffmpeg) to completion and keeps its output: the mixer's way of asking
 * questions of media files. The child is killed if the caller is interrupted.
 */
import { Duration, Effect, Stream } from "effect"
import { ChildProcess } from "effect/process"
import { MixerError, type MixerErrorReason } from "./mixer-error.ts"

export interface CapturedRun {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/** The last lines of a tool's stderr, for an error message. */
export const tail = (text: string, lines = 4): string => text.trim().split("\n").slice(-lines).join(" | ")

/** Runs `command args`, failing with `reason` if it cannot be started; the exit code is the caller's to judge. */
export const runCaptured = (
  command: string,
  args: ReadonlyArray<string>,
  reason: MixerErrorReason = "FfmpegFailed"
) =>
  Effect.scoped(Effect.gen(function*() {
    const handle = yield* ChildProcess.make(command, args, {
      stdin: "ignore",
      killSignal: "SIGTERM",
      forceKillAfter: Duration.seconds(2)
    })
    const [stdout, stderr, exitCode] = yield* Effect.all([
      handle.stdout.pipe(Stream.decodeText(), Stream.mkString),
      handle.stderr.pipe(Stream.decodeText(), Stream.mkString),
      handle.exitCode
    ], { concurrency: "unbounded" })
    return { exitCode: Number(exitCode), stdout, stderr } satisfies CapturedRun
  })).pipe(
    Effect.mapError((error) => new MixerError({ reason, message: `${command}: ${error.message}` }))
  )

/** Runs a tool that must exit 0; its stdout on success. */
export const runChecked = (
  command: string,
  args: ReadonlyArray<string>,
  reason: MixerErrorReason = "FfmpegFailed"
) =>
  runCaptured(command, args, reason).pipe(
    Effect.flatMap((run) =>
      run.exitCode === 0
        ? Effect.succeed(run.stdout)
        : Effect.fail(
          new MixerError({ reason, message: `${command} exited with ${run.exitCode}: ${tail(run.stderr)}` })
        )
    )
  )
