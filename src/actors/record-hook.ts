/**
 * Runs `on_record_hook_script` once a record file is complete (manual: "Record files handling script"): argv is
 * exactly [stream name, absolute file path], with no shell in between, bounded by `on_record_hook_timeout`.
 * A failing, missing or hanging script is logged and never fails the recording.
 *
 * The script runs in its own process group. When it exits, times out or its caller is interrupted, the whole
 * group gets SIGTERM and, 2 s later, SIGKILL; so background jobs a hook starts are killed too (use `setsid` in
 * the script to outlive it).
 */
import { resolve } from "node:path"
import { Duration, Effect, Option, Result, Stream } from "effect"
import { ChildProcess } from "effect/process"
import type { ChildProcessSpawner } from "effect/process"

export interface RecordHookRequest {
  /** The script (made absolute against the working directory if relative). */
  readonly script: string
  readonly streamName: string
  /** The finished record file; passed as an absolute path. */
  readonly filePath: string
  readonly timeout: Duration.Input
}

/** Output kept from each of stdout and stderr, for the log. */
export const HOOK_OUTPUT_LIMIT = 4096

/** Grace between SIGTERM and SIGKILL when the hook's process group is stopped. */
const KILL_GRACE = Duration.seconds(2)

export type RecordHookResult =
  | { readonly _tag: "Succeeded"; readonly pid: number; readonly stdout: string; readonly stderr: string }
  | {
    readonly _tag: "Failed"
    readonly pid: number
    /** The exit code, or undefined when a signal ended the script. */
    readonly exitCode: number | undefined
    readonly reason: string
    readonly stdout: string
    readonly stderr: string
  }
  | { readonly _tag: "TimedOut"; readonly pid: number }
  | { readonly _tag: "SpawnFailed"; readonly reason: string }

interface Collected {
  readonly chunks: Array<Uint8Array>
  kept: number
  dropped: number
}

/** Drains a stream (so the child never blocks on a full pipe) and keeps its first `limit` bytes. */
const collectBounded = (stream: Stream.Stream<Uint8Array, unknown>, limit: number): Effect.Effect<string> =>
  stream.pipe(
    Stream.runFold((): Collected => ({ chunks: [], kept: 0, dropped: 0 }), (acc, chunk) => {
      const take = Math.min(Math.max(0, limit - acc.kept), chunk.length)
      if (take > 0) acc.chunks.push(chunk.subarray(0, take))
      acc.kept += take
      acc.dropped += chunk.length - take
      return acc
    }),
    Effect.map((acc) => {
      const text = new TextDecoder().decode(Buffer.concat(acc.chunks)).trimEnd()
      return acc.dropped > 0 ? `${text} [... ${acc.dropped} more bytes]` : text
    }),
    Effect.orElseSucceed(() => "")
  )

const describe = (error: { readonly message: string }): string => error.message.split("\n")[0]!

const outputLines = (stdout: string, stderr: string): string =>
  (stdout === "" ? "" : ` stdout: ${JSON.stringify(stdout)}`) +
  (stderr === "" ? "" : ` stderr: ${JSON.stringify(stderr)}`)

const run = (script: string, streamName: string, file: string, timeout: Duration.Input) =>
  Effect.scoped(Effect.gen(function*() {
    const spawned = yield* Effect.result(ChildProcess.make(script, [streamName, file], {
      stdin: "ignore",
      killSignal: "SIGTERM",
      forceKillAfter: KILL_GRACE
    }))
    if (Result.isFailure(spawned)) {
      return { _tag: "SpawnFailed", reason: describe(spawned.failure) } satisfies RecordHookResult
    }
    const handle = spawned.success
    const pid = Number(handle.pid)
    const finished = yield* Effect.all([
      collectBounded(handle.stdout, HOOK_OUTPUT_LIMIT),
      collectBounded(handle.stderr, HOOK_OUTPUT_LIMIT),
      Effect.result(handle.exitCode)
    ], { concurrency: "unbounded" }).pipe(Effect.timeoutOption(timeout))
    if (Option.isNone(finished)) return { _tag: "TimedOut", pid } satisfies RecordHookResult
    const [stdout, stderr, exit] = finished.value
    if (Result.isFailure(exit)) {
      return { _tag: "Failed", pid, exitCode: undefined, reason: describe(exit.failure), stdout, stderr } as const
    }
    const exitCode = Number(exit.success)
    return exitCode === 0
      ? { _tag: "Succeeded", pid, stdout, stderr } as const
      : { _tag: "Failed", pid, exitCode, reason: `exit code ${exitCode}`, stdout, stderr } as const
  }))

/** Runs the hook and logs how it ended; never fails. The child is gone when this returns. */
export const runRecordHook = Effect.fn("RecordHook.run")(function*(request: RecordHookRequest) {
  const file = resolve(request.filePath)
  const script = resolve(request.script)
  const timeout = Duration.fromInputUnsafe(request.timeout)
  const result: RecordHookResult = yield* run(script, request.streamName, file, timeout)
  const what = `record hook ${JSON.stringify(script)} for ${JSON.stringify(file)}`
  switch (result._tag) {
    case "Succeeded":
      yield* Effect.logDebug(`${what} succeeded${outputLines(result.stdout, result.stderr)}`)
      break
    case "Failed":
      yield* Effect.logWarning(`${what} failed: ${result.reason}${outputLines(result.stdout, result.stderr)}`)
      break
    case "TimedOut":
      yield* Effect.logWarning(`${what} failed: timed out after ${Duration.format(timeout)}, killed`)
      break
    case "SpawnFailed":
      yield* Effect.logWarning(`${what} failed: could not start: ${result.reason}`)
      break
  }
  return result
}) satisfies (
  request: RecordHookRequest
) => Effect.Effect<RecordHookResult, never, ChildProcessSpawner.ChildProcessSpawner>
