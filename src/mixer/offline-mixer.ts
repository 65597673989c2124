/**
 * The offline mix of a multi-recording (manual: "Multiple streams mixing tool"): `{name}_mixed.mp4` next to the
 * input, a grid of the participants present at each moment with their names, and all audio mixed; then the
 * callback, if configured. The disk is checked before the start and every few seconds while ffmpeg runs: below
 * minAvailableSpace the mix does not start, or ffmpeg is told to stop (`q`) and finishes the file it has written so
 * far, which then plays; the run fails with NotEnoughDiskSpace either way and no callback is sent.
 */
import * as path from "node:path"
import { Deferred, Duration, Effect, Schedule } from "effect"
import { DiskSpace, NOT_ENOUGH_DISK_SPACE } from "../pipelines/disk-guard.ts"
import { tail } from "./captured-run.ts"
import { runFfmpegJob } from "./ffmpeg-job.ts"
import { mixCommandArgs, planMix } from "./filter-graph.ts"
import {
  fileMp4Time,
  type MultiRecorderCallback,
  postCallback,
  recorderUriFromFileName
} from "./mixer-callback.ts"
import { MixerError } from "./mixer-error.ts"
import type { MixerSettings } from "./mixer-settings.ts"
import type { MixerTools } from "./mixer-tools.ts"
import { readMp4Tracks } from "./mp4-tracks.ts"
import { readMultiRecording } from "./multi-recording.ts"
import { makeProgressBar, type ProgressOutput, stderrOutput } from "./progress-bar.ts"
import { findLabelFont, streamLabel } from "./stream-label.ts"
import { workDir, writeWorkFiles } from "./work-dir.ts"

export interface MixOptions {
  readonly file: string
  readonly settings: MixerSettings
  readonly tools: MixerTools
  /** The recorder's URI for the callback; default: told by the file name (mixer-callback.ts). */
  readonly recorderUri?: string | undefined
  /** Where the progress bar goes; false: none. Default: stderr. */
  readonly progress?: ProgressOutput | false
  /** How often the disk is checked while mixing. Default 5 s. */
  readonly diskCheckPeriod?: Duration.Input
}

export interface MixResult {
  readonly input: string
  readonly output: string
  readonly durationInMs: number
  /** The callback's body, when one was sent. */
  readonly callback: MultiRecorderCallback | undefined
}

/** `dir/name.mp4` -> `dir/name_mixed.mp4` (manual: "with `_mixed` suffix addition"). */
export const mixedPathOf = (file: string): string =>
  path.join(path.dirname(file), `${path.basename(file, path.extname(file))}_mixed.mp4`)

const GIB = 1024 ** 3
const size = (bytes: number): string =>
  bytes >= GIB ? `${(bytes / GIB).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(0)} MiB`

const lowSpace = (dir: string, available: number, required: number, what: string) =>
  new MixerError({
    reason: "NotEnoughDiskSpace",
    message: `${NOT_ENOUGH_DISK_SPACE}: ${size(available)} free in ${dir}, ` +
      `minAvailableSpace is ${size(required)}; ${what}`
  })

/** The free bytes in `dir`, through the DiskSpace service (tests swap it); unknown counts as enough. */
const freeSpace = (dir: string) =>
  Effect.flatMap(DiskSpace, (disk) => disk.available(dir)).pipe(
    Effect.catchTag("DiskSpaceUnknown", (error) =>
      Effect.as(Effect.logWarning(`disk space of ${dir} unknown: ${error.reason}`), Number.POSITIVE_INFINITY)
    )
  )

/** Mixes one multi-recording. */
export const mixMultiRecording = Effect.fn("OfflineMixer.mix")(function*(options: MixOptions) {
  const { settings, tools } = options
  const recording = yield* readMultiRecording(options.file, tools.ffprobe)
  const hasVideo = settings.hasVideo && recording.tracks.some((track) => track.trackType === "VIDEO")
  const hasAudio = settings.hasAudio && recording.tracks.some((track) => track.trackType === "AUDIO")
  if (!hasVideo && !hasAudio) {
    const kinds = [settings.hasVideo ? "video" : "", settings.hasAudio ? "audio" : ""].filter((k) => k !== "")
    const message = kinds.length === 0
      ? "hasVideo and hasAudio are both false: nothing to mix"
      : `${recording.file}: no ${kinds.join(" or ")} track to mix`
    return yield* new MixerError({ reason: "NoTracks", message })
  }
  const output = mixedPathOf(recording.file)
  const dir = path.dirname(output)
  const before = yield* freeSpace(dir)
  if (before < settings.minAvailableSpace) {
    return yield* lowSpace(dir, before, settings.minAvailableSpace, "mixing not started")
  }

  const work = yield* workDir("mixing")
  const labels = new Map<string, string>()
  for (const track of recording.tracks) {
    const label = streamLabel(track.streamName, settings)
    if (label !== undefined && !labels.has(track.mediaSessionId)) labels.set(track.mediaSessionId, label)
  }
  const labelPaths = new Map([...labels.keys()].map((id, i) => [id, path.join(work, `label-${i}.txt`)]))
  const plan = planMix({
    recording,
    hasVideo,
    hasAudio,
    width: settings.outputWidth,
    height: settings.outputHeight,
    fps: settings.outputFps,
    labels,
    labelFile: (id) => labelPaths.get(id)!,
    font: findLabelFont(settings.fontFile)
  })
  const filterScriptPath = path.join(work, "filter-graph.txt")
  yield* writeWorkFiles(new Map([
    ...[...labelPaths].map(([id, file]) => [file, labels.get(id)!] as const),
    [filterScriptPath, plan.filterScript]
  ]))
  const args = mixCommandArgs(plan, {
    file: recording.file,
    output,
    filterScriptPath,
    fps: settings.outputFps,
    threads: settings.multithreading ? settings.threadCount : 1
  })
  yield* Effect.logInfo(`mixing ${recording.file} (${plan.segments.length} segments) into ${output}`)
  yield* Effect.logDebug(`ffmpeg ${args.join(" ")}\n${plan.filterScript}`)

  const progress = options.progress ?? stderrOutput()
  const bar = progress === false ? undefined : yield* makeProgressBar("mixing", plan.duration, progress)
  const stop = yield* Deferred.make<string>()
  const period = Duration.fromInputUnsafe(options.diskCheckPeriod ?? Duration.seconds(5))
  yield* freeSpace(dir).pipe(
    Effect.flatMap((available) =>
      available < settings.minAvailableSpace
        ? Deferred.succeed(stop, `${size(available)} free in ${dir}`)
        : Effect.void
    ),
    Effect.repeat({ schedule: Schedule.spaced(period), until: () => Deferred.isDoneUnsafe(stop) }),
    Effect.delay(period),
    Effect.forkScoped
  )
  const job = yield* runFfmpegJob({
    ffmpegPath: tools.ffmpeg,
    args,
    onProgress: bar?.update,
    stop
  })
  if (bar !== undefined) yield* bar.finish
  if (job.stopped !== undefined) {
    const available = yield* freeSpace(dir)
    return yield* lowSpace(dir, available, settings.minAvailableSpace, `mixing stopped, ${output} holds what was mixed`)
  }
  if (job.exitCode !== 0) {
    return yield* new MixerError({
      reason: "FfmpegFailed",
      message: `ffmpeg exited with ${job.exitCode} mixing ${recording.file}: ${tail(job.stderr)}`
    })
  }
  const mixed = yield* readMp4Tracks(output)
  const result: MixResult = { input: recording.file, output, durationInMs: mixed.durationInMs, callback: undefined }
  yield* Effect.logInfo(`mixed ${recording.file} into ${output} (${Math.round(mixed.durationInMs)} ms)`)
  if (settings.callbackUrl === undefined) return result
  const callback: MultiRecorderCallback = {
    multiRecorderCreationModificationTime: recording.creationTime !== undefined && recording.creationTime > 0
      ? recording.creationTime
      : yield* fileMp4Time(recording.file),
    multiRecorderDurationInMS: Math.round(recording.durationInMs),
    multiRecorderFilePath: recording.file,
    ...withUri(options.recorderUri ?? recorderUriFromFileName(recording.file)),
    mixerParams: [{
      path: output,
      durationInMs: Math.round(mixed.durationInMs),
      creationModificationTime: yield* fileMp4Time(output)
    }]
  }
  yield* postCallback(settings.callbackUrl, callback)
  return { ...result, callback }
}, Effect.scoped)

const withUri = (uri: string | undefined) => (uri === undefined ? {} : { recorderUri: uri })


