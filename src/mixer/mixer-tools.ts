/**
 * The programs the offline mixer runs: ffmpeg as the server finds it (src/media/ffmpeg-binary.ts), and ffprobe,
 * which the npm ffmpeg package does not ship: the one beside that ffmpeg, else the first on PATH.
 */
import * as path from "node:path"
import { Effect, Option } from "effect"
import { findFfmpeg, isExecutableFile } from "../media/ffmpeg-binary.ts"
import { MixerError } from "./mixer-error.ts"

export interface MixerTools {
  readonly ffmpeg: string
  readonly ffprobe: string
}

/** ffprobe next to `ffmpeg` (an absolute path, if known), else on `pathEnv`, else undefined. */
export const findFfprobe = (
  ffmpeg: string | undefined,
  pathEnv: string | undefined = process.env.PATH
): string | undefined => {
  const dirs = [
    ...(ffmpeg !== undefined && path.isAbsolute(ffmpeg) ? [path.dirname(ffmpeg)] : []),
    ...(pathEnv ?? "").split(path.delimiter).filter((dir) => path.isAbsolute(dir))
  ]
  const candidates = dirs.map((dir) => path.join(dir, "ffprobe"))
  return candidates.find(isExecutableFile)
}

/** Finds both tools; `configured` is an explicit ffmpeg path (ffmpeg_path), if any. */
export const findMixerTools = Effect.fn("MixerTools.find")(function*(
  configured: Option.Option<string> = Option.none()
) {
  const ffmpeg = yield* findFfmpeg(configured).pipe(
    Effect.mapError((error) => new MixerError({ reason: "FfmpegFailed", message: error.reason }))
  )
  const ffprobe = findFfprobe(ffmpeg)
  if (ffprobe === undefined) {
    return yield* new MixerError({ reason: "FfmpegFailed", message: `no ffprobe beside ${ffmpeg} or on PATH` })
  }
  return { ffmpeg, ffprobe } satisfies MixerTools
})
