import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { runRecordHook } from "../src/actors/record-hook.ts"
import type { RecordHookRequest } from "../src/actors/record-hook.ts"
import { isAlive } from "./support/processes.ts"

const dir = mkdtempSync(join(tmpdir(), "capstan-hook-"))

const script = (name: string, body: string, executable = true): string => {
  const path = join(dir, name)
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  if (executable) chmodSync(path, 0o755)
  return path
}

/** Runs the hook with real processes and collects the warnings it logs. */
const runLogged = (request: RecordHookRequest) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const logger = Logger.make((options) => {
      if (options.logLevel === "Warn") {
        const message = options.message
        warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
      }
    })
    const result = yield* runRecordHook(request).pipe(Effect.provide(Logger.layer([logger])))
    return { result, warnings }
  }).pipe(Effect.provide(NodeServices.layer))

/** The usual request: stream `s`, file `/r/s.mp4`. */
const hookRun = (hook: string, timeout: RecordHookRequest["timeout"], streamName = "s", filePath = "/r/s.mp4") =>
  runLogged({ script: hook, streamName, filePath, timeout })

const STREAM = `it's a "stream" $(touch ${join(dir, "pwned")}) \`id\` ; *`

describe("runRecordHook", () => {
  it.live("passes [stream name, absolute file path] as argv, with no shell interpreting them", () =>
    Effect.gen(function*() {
      const out = join(dir, "argv.txt")
      const hook = script("argv.sh", `printf '%s\\n' "$#" "$1" "$2" > '${out}'`)
      const { result, warnings } = yield* runLogged({
        script: hook,
        streamName: STREAM,
        filePath: join(dir, "records", "my file.mp4"),
        timeout: "10 seconds"
      })
      assert.strictEqual(result._tag, "Succeeded")
      assert.deepStrictEqual(warnings, [])
      assert.deepStrictEqual(readFileSync(out, "utf8").split("\n").slice(0, 3), [
        "2",
        STREAM,
        join(dir, "records", "my file.mp4")
      ])
      assert.isFalse(existsSync(join(dir, "pwned")))
    }))

  it.live("makes a relative file path absolute", () =>
    Effect.gen(function*() {
      const out = join(dir, "relative.txt")
      const hook = script("relative.sh", `printf '%s' "$2" > '${out}'`)
      yield* runLogged({ script: hook, streamName: "s", filePath: "records/x.mp4", timeout: "10 seconds" })
      assert.strictEqual(readFileSync(out, "utf8"), join(process.cwd(), "records/x.mp4"))
    }))

  it.live("a non-zero exit is logged with the script, the file, the code and the output, and does not fail", () =>
    Effect.gen(function*() {
      const hook = script("exit3.sh", `echo "copying $1"; echo "cp: permission denied" >&2; exit 3`)
      const { result, warnings } = yield* hookRun(hook, "10 seconds", "cam", "/r/cam.mp4")
      assert.strictEqual(result._tag, "Failed")
      if (result._tag === "Failed") {
        assert.strictEqual(result.exitCode, 3)
        assert.strictEqual(result.stdout, "copying cam")
        assert.strictEqual(result.stderr, "cp: permission denied")
      }
      assert.strictEqual(warnings.length, 1)
      assert.strictEqual(
        warnings[0],
        `record hook ${JSON.stringify(hook)} for "/r/cam.mp4" failed: exit code 3 stdout: "copying cam" ` +
          `stderr: "cp: permission denied"`
      )
    }))

  it.live("keeps only a bounded part of a flood of output", () =>
    Effect.gen(function*() {
      const hook = script("flood.sh", `head -c 1000000 /dev/zero | tr '\\0' 'x'; exit 1`)
      const { result } = yield* hookRun(hook, "10 seconds")
      assert.strictEqual(result._tag, "Failed")
      if (result._tag === "Failed") {
        assert.match(result.stdout, /^x{4096} \[\.\.\. 995904 more bytes\]$/)
      }
    }))

  it.live("a missing script and a non-executable script are logged, not fatal", () =>
    Effect.gen(function*() {
      const missing = join(dir, "does-not-exist.sh")
      const first = yield* hookRun(missing, "5 seconds")
      assert.strictEqual(first.result._tag, "SpawnFailed")
      assert.strictEqual(first.warnings.length, 1)
      const expected = `record hook ${JSON.stringify(missing)} for "/r/s.mp4" failed: could not start`
      assert.include(first.warnings[0]!, expected)
      assert.include(first.warnings[0]!, "NotFound")

      const notExecutable = script("plain.sh", "exit 0", false)
      const second = yield* hookRun(notExecutable, "5 seconds")
      assert.strictEqual(second.result._tag, "SpawnFailed")
      assert.include(second.warnings[0]!, "PermissionDenied")
    }))

  it.live("a script sleeping 60 s is killed at a 1 s timeout", () =>
    Effect.gen(function*() {
      const hook = script("sleep60.sh", "exec sleep 60")
      const started = Date.now()
      const { result, warnings } = yield* hookRun(hook, "1 second")
      const elapsed = Date.now() - started
      assert.strictEqual(result._tag, "TimedOut")
      assert.isAtLeast(elapsed, 1000)
      assert.isBelow(elapsed, 3000)
      if (result._tag === "TimedOut") assert.isFalse(isAlive(result.pid))
      assert.deepStrictEqual(warnings, [
        `record hook ${JSON.stringify(hook)} for "/r/s.mp4" failed: timed out after 1s, killed`
      ])
    }))

  it.live("the script's own children are killed with it", () =>
    Effect.gen(function*() {
      const childPidFile = join(dir, "sleep.pid")
      const hook = script("hang.sh", `sleep 60 &\necho $! > '${childPidFile}'\nwait`)
      const started = Date.now()
      const { result } = yield* hookRun(hook, "1 second")
      const elapsed = Date.now() - started
      assert.strictEqual(result._tag, "TimedOut")
      // The whole process group gets SIGTERM. The orphaned `sleep` is reaped by PID 1, which in this container
      // takes up to ~2 s; the spawner waits for the group to be empty (or SIGKILLs it after a 2 s grace).
      assert.isBelow(elapsed, 5000)
      if (result._tag === "TimedOut") assert.isFalse(isAlive(result.pid))
      const sleepPid = Number(readFileSync(childPidFile, "utf8"))
      assert.isAbove(sleepPid, 0)
      assert.isFalse(isAlive(sleepPid))
    }))

  it.live("interrupting the caller kills the script too", () =>
    Effect.gen(function*() {
      const pidFile = join(dir, "interrupted.pid")
      const hook = script("interrupted.sh", `echo $$ > '${pidFile}'\nexec sleep 60`)
      const outcome = yield* hookRun(hook, "60 seconds").pipe(Effect.timeoutOption("1 second"))
      assert.strictEqual(outcome._tag, "None")
      const pid = Number(readFileSync(pidFile, "utf8"))
      assert.isAbove(pid, 0)
      assert.isFalse(isAlive(pid))
    }))
})
