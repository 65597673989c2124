/**
 * The two files a multi-recording can write (multi_record_format), behind MultiTrackFile: our MP4 recorder (H.264
 * and AAC, with its journal for crash recovery and edit lists for the pauses) or our MKV writer (also VP8, Opus,
 * G.711 and G.722; a crash leaves a file that plays up to its last closed cluster).
 */
import { Effect } from "effect"
import { Mp4Recorder } from "../containers/isobmff/index.ts"
import type { ClusterLimitOptions } from "../containers/matroska/index.ts"
import { MkvWriter, MULTI_TRACKS_REGION } from "../containers/matroska/mkv/mkv-writer.ts"
import { PositionedFile } from "../containers/matroska/positioned-file.ts"
import { ContainerWriteError } from "../pipelines/container-format.ts"
import type { MultiTrackFile } from "../pipelines/multi-recording.ts"

export const openMultiRecordFile = (options: {
  readonly format: "mp4" | "mkv"
  /** Without the extension: `.mp4.tmp` or `.mkv.tmp` is appended. */
  readonly tmpStem: string
  readonly creationMillis: number
  readonly clusterLimits: ClusterLimitOptions
}): Effect.Effect<MultiTrackFile, { readonly message: string }> =>
  options.format === "mp4" ? openMp4(options) : openMkv(options)

const openMp4 = (options: { readonly tmpStem: string; readonly creationMillis: number }) =>
  Effect.map(
    Mp4Recorder.open({ tmpPath: `${options.tmpStem}.mp4.tmp`, creationTime: options.creationMillis }),
    (recorder): MultiTrackFile => ({
      extension: "mp4",
      addTrack: (track, startOffset) => recorder.addTrack(track, { startOffset }),
      push: (index, frame) => recorder.push(index, frame),
      finalize: (finalPath) =>
        recorder.finalize({ finalPath }).pipe(
          Effect.map((info) => ({ path: info.path, tracks: info.tracks.length })),
          Effect.mapError((error) => ({ message: error.message, empty: error.reason === "NoSamples" }))
        ),
      abort: () => recorder.abort()
    })
  )

const openMkv = (options: {
  readonly tmpStem: string
  readonly creationMillis: number
  readonly clusterLimits: ClusterLimitOptions
}) =>
  Effect.suspend(() => {
    const file = PositionedFile.create(`${options.tmpStem}.mkv.tmp`)
    if (file instanceof ContainerWriteError) return Effect.fail(file)
    const writer = new MkvWriter({
      file,
      limits: options.clusterLimits,
      creationTime: new Date(options.creationMillis),
      tracksRegion: MULTI_TRACKS_REGION
    })
    return Effect.succeed<MultiTrackFile>({
      extension: "mkv",
      addTrack: (track, startOffset) => writer.addTrack(track, { startOffset }),
      push: writer.push,
      finalize: (finalPath) =>
        writer.finalize(finalPath).pipe(
          Effect.map((info) => ({ path: info.path, tracks: writer.recordedTracks })),
          Effect.mapError((error) => ({ message: error.message, empty: error.code === "Empty" }))
        ),
      abort: writer.abort
    })
  })
