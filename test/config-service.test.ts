import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Logger, Option } from "effect"
import { ConfigError } from "../src/config/error.ts"
import { CapstanConfig } from "../src/config/service.ts"

const dir = mkdtempSync(join(tmpdir(), "capstan-config-"))

const writeConfig = (name: string, text: string): string => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

/** Runs `effect` with the layer and collects what it logged at Warning level. */
const withWarnings = <A, E>(effect: Effect.Effect<A, E, CapstanConfig>, layer: Layer.Layer<CapstanConfig, E>) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const logger = Logger.make((options) => {
      if (options.logLevel === "Warn") {
        const message = options.message
        warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
      }
    })
    const exit = yield* effect.pipe(Effect.provide(layer), Effect.provide(Logger.layer([logger])), Effect.exit)
    return { exit, warnings }
  })

const current = Effect.gen(function*() {
  return yield* CapstanConfig
})

const noEnv = ConfigProvider.layer(ConfigProvider.fromEnvRecord({}))

describe("CapstanConfig layers", () => {
  it.effect("layerFromFile reads the file; keys left out keep their defaults", () =>
    Effect.gen(function*() {
      const path = writeConfig("a.properties", "# test\nhttp_port=9001\nrecord_dir=/var/rec\nrecord_rotation=20\n")
      const config = yield* CapstanConfig.pipe(
        Effect.provide(CapstanConfig.layerFromFile(path).pipe(Layer.provide(NodeServices.layer)))
      )
      assert.strictEqual(config.httpPort, 9001)
      assert.strictEqual(config.recordDir, "/var/rec")
      assert.strictEqual(config.recordTmpDir, "/var/rec")
      assert.deepStrictEqual(config.recordRotation, { _tag: "Duration", seconds: 20 })
      assert.strictEqual(config.rtmpPort, 1935)
    }))

  it.effect("an unknown key is logged as a warning naming the key, the file and the line", () =>
    Effect.gen(function*() {
      const path = writeConfig("b.properties", "http_port=9002\nrecord_dri=/x\n")
      const layer = CapstanConfig.layerFromFile(path).pipe(Layer.provide(NodeServices.layer))
      const { exit, warnings } = yield* withWarnings(current, layer)
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(warnings, [`config: unknown key "record_dri" is ignored (${path}:2)`])
    }))

  it.effect("a bad value fails the layer with a one-line ConfigError naming file and line", () =>
    Effect.gen(function*() {
      const path = writeConfig("c.properties", "\n\nrecord_rotation=sometimes\n")
      const error = yield* current.pipe(
        Effect.provide(CapstanConfig.layerFromFile(path).pipe(Layer.provide(NodeServices.layer))),
        Effect.flip
      )
      assert.instanceOf(error, ConfigError)
      assert.strictEqual(
        error.message,
        `config: record_rotation="sometimes" is invalid: expected "disabled", N (seconds) or NM (megabytes) (${path}:3)`
      )
    }))

  it.effect("a missing file is a clear error naming the path", () =>
    Effect.gen(function*() {
      const path = join(dir, "missing.properties")
      const error = yield* current.pipe(
        Effect.provide(CapstanConfig.layerFromFile(path).pipe(Layer.provide(NodeServices.layer))),
        Effect.flip
      )
      assert.strictEqual(error.message, `config: cannot read config file ${JSON.stringify(path)}: no such file`)
    }))

  it.effect("without a path it uses $CAPSTAN_CONFIG, else the built-in defaults", () =>
    Effect.gen(function*() {
      const path = writeConfig("env.properties", "rtmp_port=19350\n")
      const fromEnv = yield* current.pipe(
        Effect.provide(CapstanConfig.layerFromFile(undefined).pipe(
          Layer.provide(NodeServices.layer),
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ CAPSTAN_CONFIG: path })))
        ))
      )
      assert.strictEqual(fromEnv.rtmpPort, 19350)
      const defaults = yield* current.pipe(
        Effect.provide(
          CapstanConfig.layerFromFile(undefined).pipe(Layer.provide(NodeServices.layer), Layer.provide(noEnv))
        )
      )
      assert.strictEqual(defaults.rtmpPort, 1935)
      assert.strictEqual(defaults.recordDir, join(process.cwd(), "records"))
    }))

  it.effect("layerFromRecord overrides a few keys; derived directories follow record_dir", () =>
    Effect.gen(function*() {
      const config = yield* current.pipe(
        Effect.provide(CapstanConfig.layerFromRecord({ record_dir: dir, on_record_hook_script: "/bin/true" }))
      )
      assert.strictEqual(config.recordDir, dir)
      assert.strictEqual(config.mp4CutterDir, dir)
      assert.deepStrictEqual(config.onRecordHookScript, Option.some("/bin/true"))
    }))

  it.effect("layerFromProperties accepts a Map and fails on bad values", () =>
    Effect.gen(function*() {
      const error = yield* current.pipe(
        Effect.provide(CapstanConfig.layerFromProperties(new Map([["http_port", "70000"]]))),
        Effect.flip
      )
      assert.strictEqual(error.message, `config: http_port="70000" is invalid: expected an integer port 1..65535`)
    }))
})
