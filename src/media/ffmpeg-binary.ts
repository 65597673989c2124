/**
 * Which ffmpeg binary Capstan runs (for audio transcoding): the configured ffmpeg_path, else `ffmpeg` on PATH, else
 * the binary shipped by the npm package @ffmpeg-installer/ffmpeg. Resolved once at startup; the choice is logged.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { Context, Effect, Layer, Option, Schema } from "effect"

export class FfmpegNotFound extends Schema.TaggedError<FfmpegNotFound>()("FfmpegNotFound", {
  reason: Schema.String
}, { httpApiStatus: 500 }) {
  override get message(): string {
    return this.reason
  }
}

export type FfmpegSource = "ffmpeg_path" | "PATH" | "@ffmpeg-installer/ffmpeg"

/** Where the search looks; tests replace them to take each branch. */
export interface FfmpegLookups {
  /** The PATH to search, as in the environment (`:`-separated). Default: process.env.PATH. */
  readonly pathEnv?: string | undefined
  /** The installer package's binary path; may throw, as the package does on an unsupported platform. */
  readonly installerPath?: () => string
}

/** A regular file this process may execute. */
export const isExecutableFile = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

const installerPath = (): string => createRequire(import.meta.url)("@ffmpeg-installer/ffmpeg").path

/** The first `ffmpeg` executable in the directories of `pathEnv`, or undefined. */
export const searchPath = (pathEnv: string | undefined): string | undefined => {
  for (const dir of (pathEnv ?? "").split(path.delimiter)) {
    if (dir === "") continue
    const candidate = path.join(dir, process.platform === "win32" ? "ffmpeg.exe" : "ffmpeg")
    if (isExecutableFile(candidate)) return candidate
  }
  return undefined
}

/**
 * Finds ffmpeg: the configured path (which must be an executable file, or the search fails naming ffmpeg_path),
 * then PATH, then @ffmpeg-installer/ffmpeg. Logs the choice.
 */
export const findFfmpeg = Effect.fn("FfmpegBinary.find")(function*(
  configured: Option.Option<string>,
  lookups: FfmpegLookups = {}
) {
  let found: { readonly path: string; readonly source: FfmpegSource } | undefined
  if (Option.isSome(configured)) {
    const file = configured.value
    if (!isExecutableFile(file)) {
      return yield* new FfmpegNotFound({ reason: `ffmpeg_path ${file} does not exist or is not an executable file` })
    }
    found = { path: file, source: "ffmpeg_path" }
  }
  if (found === undefined) {
    const onPath = searchPath("pathEnv" in lookups ? lookups.pathEnv : process.env.PATH)
    if (onPath !== undefined) found = { path: onPath, source: "PATH" }
  }
  if (found === undefined) {
    const installed = yield* Effect.try({
      try: lookups.installerPath ?? installerPath,
      catch: (cause) => new FfmpegNotFound({ reason: `ffmpeg is not on PATH and ${describe(cause)}` })
    })
    if (!isExecutableFile(installed)) {
      const reason = `ffmpeg is not on PATH and @ffmpeg-installer/ffmpeg's ${installed} is not executable`
      return yield* new FfmpegNotFound({ reason })
    }
    found = { path: installed, source: "@ffmpeg-installer/ffmpeg" }
  }
  yield* Effect.logInfo(`ffmpeg: ${found.path} (from ${found.source})`)
  return found.path
})

const describe = (cause: unknown): string =>
  `@ffmpeg-installer/ffmpeg failed: ${cause instanceof Error ? cause.message : String(cause)}`

/** The ffmpeg binary, found once when the layer is built. */
export class FfmpegBinary extends Context.Service<FfmpegBinary, { readonly path: string }>()(
  "capstan/media/FfmpegBinary"
) {
  static readonly layer = (configured: Option.Option<string>, lookups?: FfmpegLookups) =>
    Layer.effect(FfmpegBinary, Effect.map(findFfmpeg(configured, lookups), (file) => FfmpegBinary.of({ path: file })))
}
