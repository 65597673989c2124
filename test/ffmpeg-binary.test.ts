import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger, Option } from "effect"
import { FfmpegBinary, type FfmpegLookups, FfmpegNotFound, findFfmpeg } from "../src/media/ffmpeg-binary.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-ffmpeg-binary-"))

/** A directory holding an executable `ffmpeg` script, as a PATH entry would. */
const binDir = (name: string): string => {
  const bin = path.join(dir, name)
  fs.mkdirSync(bin, { recursive: true })
  fs.writeFileSync(path.join(bin, "ffmpeg"), "#!/bin/sh\necho fake ffmpeg\n", { mode: 0o755 })
  return bin
}

const notExecutable = path.join(dir, "not-executable")
fs.writeFileSync(notExecutable, "#!/bin/sh\n", { mode: 0o644 })
const emptyDir = path.join(dir, "empty")
fs.mkdirSync(emptyDir, { recursive: true })

/** Runs the search, collecting Info log lines. */
const find = (configured: Option.Option<string>, lookups: FfmpegLookups) =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const logger = Logger.make((options) => {
      const message = options.message
      logs.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const exit = yield* findFfmpeg(configured, lookups).pipe(Effect.provide(Logger.layer([logger])), Effect.exit)
    return { exit, logs }
  })

const INSTALLER = fs.realpathSync(path.resolve("node_modules/@ffmpeg-installer/linux-x64/ffmpeg"))

describe("findFfmpeg", () => {
  it.effect("takes ffmpeg_path first, even when PATH has one", () =>
    Effect.gen(function*() {
      const { exit, logs } = yield* find(Option.some("/usr/bin/ffmpeg"), { pathEnv: binDir("path-a") })
      assert.deepStrictEqual(exit, Exit.succeed("/usr/bin/ffmpeg"))
      assert.deepStrictEqual(logs, ["ffmpeg: /usr/bin/ffmpeg (from ffmpeg_path)"])
    }))

  it.effect.each([
    { name: "missing", file: path.join(dir, "no-such-ffmpeg") },
    { name: "not executable", file: notExecutable },
    { name: "a directory", file: emptyDir }
  ])("fails naming ffmpeg_path when the configured file is $name, without searching further", ({ file }) =>
    Effect.gen(function*() {
      const { exit } = yield* find(Option.some(file), { pathEnv: binDir("path-b") })
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(findFfmpeg(Option.some(file), {}))
      assert.instanceOf(error, FfmpegNotFound)
      assert.match(error.message, /^ffmpeg_path /)
      assert.include(error.message, file)
    }))

  it.effect("then searches PATH in order, skipping entries without an executable ffmpeg", () =>
    Effect.gen(function*() {
      const first = binDir("path-c")
      const second = binDir("path-d")
      const pathEnv = ["", emptyDir, path.join(dir, "gone"), first, second].join(path.delimiter)
      const { exit, logs } = yield* find(Option.none(), { pathEnv, installerPath: () => INSTALLER })
      assert.deepStrictEqual(exit, Exit.succeed(path.join(first, "ffmpeg")))
      assert.deepStrictEqual(logs, [`ffmpeg: ${path.join(first, "ffmpeg")} (from PATH)`])
    }))

  it.effect("then takes @ffmpeg-installer/ffmpeg's binary (the real package), which runs", () =>
    Effect.gen(function*() {
      const { exit, logs } = yield* find(Option.none(), { pathEnv: emptyDir })
      assert.isTrue(Exit.isSuccess(exit))
      const found = Exit.isSuccess(exit) ? exit.value : ""
      assert.strictEqual(fs.realpathSync(found), INSTALLER)
      assert.deepStrictEqual(logs, [`ffmpeg: ${found} (from @ffmpeg-installer/ffmpeg)`])
      const version = spawnSync(INSTALLER, ["-version"], { encoding: "utf8", timeout: 20_000 })
      assert.match(version.stdout, /^ffmpeg version/)
    }))

  it.effect("fails when there is no PATH and the installer package throws", () =>
    Effect.gen(function*() {
      const { exit } = yield* find(Option.none(), {
        pathEnv: undefined,
        installerPath: () => {
          throw "Unsupported platform/architecture: plan9-mips"
        }
      })
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(findFfmpeg(Option.none(), { pathEnv: undefined, installerPath: () => {
        throw new Error("gone")
      } }))
      assert.include(error.message, "not on PATH")
      assert.include(error.message, "gone")
    }))

  it.effect("uses the process's PATH by default, as a child with PATH=/usr/bin sees it", () =>
    Effect.gen(function*() {
      // The default lookup reads process.env.PATH; run the search in a child with a PATH that has only /usr/bin.
      const script = `import { Effect, Option } from "effect"
import { findFfmpeg } from ${JSON.stringify(path.resolve("src/media/ffmpeg-binary.ts"))}
console.log(await Effect.runPromise(findFfmpeg(Option.none())))`
      const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8",
        timeout: 30_000,
        env: { PATH: "/usr/bin" }
      })
      assert.strictEqual(child.status, 0, child.stderr)
      assert.strictEqual(child.stdout.trim().split("\n").at(-1), "/usr/bin/ffmpeg")
    }))
})

describe("FfmpegBinary.layer", () => {
  it.effect("resolves once and serves the path", () =>
    Effect.gen(function*() {
      const binary = yield* FfmpegBinary
      assert.strictEqual(binary.path, "/usr/bin/ffmpeg")
    }).pipe(Effect.provide(FfmpegBinary.layer(Option.some("/usr/bin/ffmpeg")))))

  it.effect("fails to build with FfmpegNotFound", () =>
    Effect.gen(function*() {
      const exit = yield* Layer.build(FfmpegBinary.layer(Option.some(notExecutable))).pipe(Effect.scoped, Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
    }))
})
