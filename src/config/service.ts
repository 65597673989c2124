/**
 * The `CapstanConfig` service: the decoded configuration, loaded from a properties file (the path given, else
 * `$CAPSTAN_CONFIG`, else built-in defaults only), from a map of properties, or from a partial record in tests.
 */
import { Config, Context, Effect, FileSystem, Layer, Option, Result } from "effect"
import { decodeConfig, decodeProperties } from "./decode.ts"
import type { DecodedConfig } from "./decode.ts"
import { ConfigError } from "./error.ts"
import { parseProperties } from "./properties.ts"
import type { CapstanConfigShape, ConfigKey } from "./schema.ts"

const cwd = Effect.sync(() => process.cwd())

/** Logs the warnings of a decode and yields its config, or fails with its ConfigError. */
const accept = (decoded: Result.Result<DecodedConfig, ConfigError>) =>
  Effect.gen(function*() {
    const { config, warnings } = yield* Effect.fromResult(decoded)
    for (const warning of warnings) yield* Effect.logWarning(warning)
    return config
  })

const readFile = Effect.fn("CapstanConfig.readFile")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  const text = yield* fs.readFileString(path).pipe(
    Effect.mapError((error) => {
      const reason = error.reason._tag === "NotFound" ? "no such file" : error.reason.message || error.reason._tag
      return new ConfigError({ message: `config: cannot read config file ${JSON.stringify(path)}: ${reason}` })
    })
  )
  return yield* accept(decodeProperties(parseProperties(text), { cwd: yield* cwd, source: path }))
})

const loadFile = Effect.fn("CapstanConfig.load")(function*(path: string | undefined) {
  const fromEnv = yield* Config.option(Config.String("CAPSTAN_CONFIG")).pipe(
    Effect.orElseSucceed(() => Option.none<string>())
  )
  const chosen = path ?? Option.getOrUndefined(Option.filter(fromEnv, (value) => value.trim() !== ""))
  if (chosen === undefined) return yield* accept(decodeConfig([], { cwd: yield* cwd }))
  yield* Effect.logInfo(`config: loading ${chosen}`)
  return yield* readFile(chosen)
})

export class CapstanConfig
  extends Context.Service<CapstanConfig, CapstanConfigShape>()("capstan/config/CapstanConfig")
{
  /** From a properties file; `undefined` uses `$CAPSTAN_CONFIG` if set, else the built-in defaults only. */
  static layerFromFile(path: string | undefined): Layer.Layer<CapstanConfig, ConfigError, FileSystem.FileSystem> {
    return Layer.effect(CapstanConfig, loadFile(path))
  }

  /** From key/value pairs as a properties file would give them (unknown keys are warned about). */
  static layerFromProperties(
    properties: ReadonlyMap<string, string> | Readonly<Record<string, string>>
  ): Layer.Layer<CapstanConfig, ConfigError> {
    const pairs = properties instanceof Map ? [...properties] : Object.entries(properties)
    return Layer.effect(
      CapstanConfig,
      Effect.flatMap(cwd, (dir) => accept(decodeConfig(pairs.map(([key, value]) => ({ key, value })), { cwd: dir })))
    )
  }

  /** Defaults overridden by a few keys, checked at compile time: `layerFromRecord({ record_dir: tmp })`. */
  static layerFromRecord(partial: Partial<Record<ConfigKey, string>>): Layer.Layer<CapstanConfig, ConfigError> {
    return CapstanConfig.layerFromProperties(partial as Record<string, string>)
  }

  /** An already decoded configuration, as is. */
  static layerFromValue(config: CapstanConfigShape): Layer.Layer<CapstanConfig> {
    return Layer.succeed(CapstanConfig, config)
  }
}
