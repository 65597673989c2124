/**
 * Decodes config entries (from a file, a map or a record) into `CapstanConfigShape`: keys left out keep their
 * defaults, the first bad value fails with a one-line `ConfigError`, unknown keys become warnings. Pure: the
 * working directory that relative paths resolve against is passed in.
 */
import { isAbsolute, resolve } from "node:path"
import { Option, Result, Schema } from "effect"
import { ConfigError } from "./error.ts"
import type { ParsedProperties } from "./properties.ts"
import { configKeys, configTable, fieldOf, isConfigKey } from "./schema.ts"
import type { CapstanConfigShape, ConfigKey, ConfigValues } from "./schema.ts"

export interface ConfigInput {
  readonly key: string
  readonly value: string
  /** The line in `source`, for messages. */
  readonly line?: number | undefined
}

export interface DecodeOptions {
  /** Relative paths resolve against this directory (the process's working directory in the server). */
  readonly cwd: string
  /** Where the entries come from (a file path), for messages. */
  readonly source?: string | undefined
}

export interface DecodedConfig {
  readonly config: CapstanConfigShape
  /** Unknown keys and duplicates, one line each, for `Effect.logWarning`. */
  readonly warnings: ReadonlyArray<string>
}

/** ` (file:line)` when the entries come from a file, else nothing: the key already says where. */
const where = (options: DecodeOptions, line: number | undefined): string =>
  options.source === undefined ? "" : line === undefined ? ` (${options.source})` : ` (${options.source}:${line})`

/** `config: record_rotation="sometimes" is invalid: expected "disabled", N (seconds) or NM (megabytes)` */
export const invalidValueMessage = (key: string, value: string, reason: string): string =>
  `config: ${key}=${JSON.stringify(value)} is invalid: ${reason}`

const decodeValue = (key: ConfigKey, value: string): Result.Result<unknown, string> => {
  const result = Schema.decodeUnknownResult(configTable[key].kind.schema)(value)
  return Result.isSuccess(result) ? Result.succeed(result.success) : Result.fail(result.failure.message)
}

const resolvePath = (cwd: string, path: string): string => (isAbsolute(path) ? path : resolve(cwd, path))

const resolveConfig = (values: ConfigValues, cwd: string): CapstanConfigShape => {
  const recordDir = resolvePath(cwd, values.recordDir)
  const dirOr = (dir: Option.Option<string>): string =>
    Option.match(dir, { onNone: () => recordDir, onSome: (path) => resolvePath(cwd, path) })
  return {
    ...values,
    recordDir,
    recordTmpDir: dirOr(values.recordTmpDir),
    mp4CutterDir: dirOr(values.mp4CutterDir),
    multiRecordDir: dirOr(values.multiRecordDir),
    onRecordHookScript: Option.map(values.onRecordHookScript, (path) => resolvePath(cwd, path)),
    onMultipleRecordHookScript: Option.map(values.onMultipleRecordHookScript, (path) => resolvePath(cwd, path))
  }
}

/** Decodes entries over the built-in defaults. Later entries for the same key win. */
export const decodeConfig = (
  entries: Iterable<ConfigInput>,
  options: DecodeOptions
): Result.Result<DecodedConfig, ConfigError> => {
  const texts = new Map<ConfigKey, ConfigInput>()
  const warnings: Array<string> = []
  for (const input of entries) {
    if (isConfigKey(input.key)) texts.set(input.key, input)
    else warnings.push(`config: unknown key "${input.key}" is ignored${where(options, input.line)}`)
  }
  const values: Record<string, unknown> = {}
  for (const key of configKeys) {
    const input = texts.get(key)
    const text = input === undefined ? configTable[key].default : input.value.trim()
    const decoded = decodeValue(key, text)
    if (Result.isFailure(decoded)) {
      const message = invalidValueMessage(key, text, decoded.failure) + where(options, input?.line)
      return Result.fail(new ConfigError({ message }))
    }
    values[fieldOf(key)] = decoded.success
  }
  return Result.succeed({ config: resolveConfig(values as ConfigValues, options.cwd), warnings })
}

/** Decodes a parsed properties file: malformed lines fail, duplicate keys are warnings (the later one wins). */
export const decodeProperties = (
  properties: ParsedProperties,
  options: DecodeOptions
): Result.Result<DecodedConfig, ConfigError> => {
  const bad = properties.malformed[0]
  if (bad !== undefined) {
    const file = options.source === undefined ? "" : ` of ${options.source}`
    const message = `config: line ${bad.line}${file} is not a key=value line: ${JSON.stringify(bad.text)}`
    return Result.fail(new ConfigError({ message }))
  }
  const duplicates = properties.duplicates.map((duplicate) =>
    `config: key "${duplicate.key}" is set again${where(options, duplicate.line)}; ` +
    `this value wins over line ${duplicate.previousLine}`
  )
  return Result.map(decodeConfig(properties.entries, options), (decoded) => ({
    config: decoded.config,
    warnings: [...duplicates, ...decoded.warnings]
  }))
}

/** The built-in defaults, with `record_dir` resolved against `cwd`. */
export const defaultConfig = (cwd: string): CapstanConfigShape => {
  const decoded = decodeConfig([], { cwd })
  // Only a broken table gets here, and the shipped-file test catches that first.
  if (Result.isFailure(decoded)) throw new Error(`built-in config defaults do not decode: ${decoded.failure.message}`)
  return decoded.success.config
}
