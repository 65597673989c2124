/**
 * At every start, before publishers are accepted: turns what a crash left in the temp and record directories
 * into playable recordings (crash-recovery.ts), names them with the record template, and runs the record hook
 * for each, as if they had finished normally.
 */
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Clock, Effect, Layer } from "effect"
import { completeMkvLeftover } from "../containers/matroska/mkv/mkv-leftover.ts"
import { codecTag, type AudioCodec, type VideoCodec } from "../media/frame.ts"
import type { LeftoverName, RecoveryOptions } from "./crash-recovery.ts"
import { recoverLeftovers } from "./crash-recovery.ts"
import { RecorderEnvironment, type RecorderSettings } from "./recorder-settings.ts"

/** How a recovered file is named: the record template, filled with what the leftover tells. */
export const recoveryOptions = (settings: RecorderSettings, moovFirst: boolean, nowMillis: number): RecoveryOptions => ({
  recordDir: settings.recordDir,
  moovFirst,
  nameFor: (leftover: LeftoverName) => {
    const startTimeMillis = leftover.startMillis ?? nowMillis
    const durationMillis = Math.round(leftover.durationSeconds * 1000)
    return settings.fileName(settings.template, {
      streamName: leftover.streamName === "" ? leftover.stem : leftover.streamName,
      mediaSessionId: leftover.mediaSessionId ?? "",
      sessionId: "",
      login: "",
      videoCodec: leftover.videoCodec === undefined ? "" : codecTag(leftover.videoCodec as VideoCodec),
      audioCodec: leftover.audioCodec === undefined ? "" : codecTag(leftover.audioCodec as AudioCodec),
      startTime: 0,
      endTime: durationMillis,
      durationMillis,
      startTimeMillis,
      endTimeMillis: startTimeMillis + durationMillis,
      index: leftover.index ?? 1,
      rotating: settings.rotation._tag !== "Disabled"
    }, "mp4")
  }
})

/** Runs the recovery once when built; provide it beneath the servers so it finishes before they listen. */
export const startupRecoveryLayer = (moovFirst: boolean): Layer.Layer<never, never, RecorderEnvironment> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const { runHook, runMultiHook, settings } = yield* RecorderEnvironment
    const now = yield* Clock.currentTimeMillis
    const recovered = yield* recoverLeftovers({
      tmpDirs: [settings.tmpDir, settings.multiRecordDir],
      ...recoveryOptions(settings, moovFirst, now)
    })
    for (const file of recovered) {
      yield* Effect.logInfo(
        `recovered ${file.path} after a crash: ${file.frames} frames, ${file.durationSeconds.toFixed(3)} s, ` +
          `from the ${file.from}${file.streamName === "" ? "" : `, stream ${file.streamName}`}`
      )
      yield* runHook(file.streamName, file.path)
    }
    for (const file of yield* moveStreamingLeftovers(settings, now)) {
      yield* Effect.logInfo(`recovered ${file.path} after a crash: ${file.how}`)
      if (file.multiUri === undefined) yield* runHook(file.streamName, file.path)
      else yield* runMultiHook(file.multiUri, file.path)
    }
  }))

/** A Matroska or MPEG-TS temp file of a session (media-session.ts names them `.ID_N.EXT.tmp`). */
const STREAMING_TEMP = /^\.(.+)_(\d+)\.(mkv|webm|ts)\.tmp$/
/** An MKV multi-recording's temp file (multi-recorders.ts names them `.multi-NAME-MILLIS.mkv.tmp`). */
const MULTI_MKV_TEMP = /^\.multi-(.+)-(\d+)\.mkv\.tmp$/

export interface MovedLeftover {
  readonly path: string
  readonly streamName: string
  /** The multi-recorder's stream name (its uri as the file names it) for a multi-recording. */
  readonly multiUri: string | undefined
  /** What was done to it, for the log. */
  readonly how: string
}

/**
 * WebM, MKV and MPEG-TS temp files play as they are up to their last flushed cluster or packet (their writers keep
 * them readable), so a crash leftover is moved into record_dir (a multi-recording's into multi_record_dir) under
 * the template's name. An MKV of ours is first completed (Cues, Duration, a torn last Cluster cut) so it seeks.
 * Returns what was moved.
 */
export const moveStreamingLeftovers = (settings: RecorderSettings, nowMillis: number) =>
  Effect.gen(function*() {
    const moved: Array<MovedLeftover> = []
    const names = yield* Effect.promise(() => fsp.readdir(settings.tmpDir).catch(() => [] as Array<string>))
    for (const name of names) {
      const session = STREAMING_TEMP.exec(name)
      const multi = session === null ? MULTI_MKV_TEMP.exec(name) : null
      if (session === null && multi === null) continue
      const source = path.join(settings.tmpDir, name)
      const stats = yield* Effect.promise(() => fsp.stat(source).catch(() => undefined))
      if (stats === undefined || stats.size === 0) {
        yield* Effect.promise(() => fsp.rm(source, { force: true }))
        continue
      }
      const extension = session?.[3] ?? "mkv"
      const completed = extension === "mkv" ? yield* Effect.result(completeMkvLeftover(source)) : undefined
      const kept = "kept as written up to its last flushed cluster"
      const how = completed === undefined
        ? kept
        : completed._tag === "Failure"
        ? `${kept} (${completed.failure.message})`
        : `completed with Cues and duration (${completed.success.clusters} clusters, ` +
          `${completed.success.durationSeconds.toFixed(3)} s${completed.success.cutBytes > 0 ? ", a torn cluster cut" : ""})`
      const timing = {
        startTimeMillis: Math.round(stats.birthtimeMs || nowMillis),
        endTimeMillis: Math.round(stats.mtimeMs),
        durationMillis: undefined,
        sessionId: "",
        login: "",
        videoCodec: "",
        audioCodec: ""
      }
      const fileName = session !== null
        ? settings.fileName(settings.template, {
          ...timing,
          streamName: `${session[1]}_${session[2]}`,
          mediaSessionId: session[1]!,
          startTime: 0,
          endTime: undefined,
          index: Number(session[2]),
          rotating: settings.rotation._tag !== "Disabled"
        }, extension)
        : settings.fileName(settings.template, {
          ...timing,
          streamName: multi![1]!,
          mediaSessionId: "",
          startTimeMillis: Number(multi![2]),
          startTime: -1,
          endTime: -1,
          index: 1,
          rotating: false
        }, "mkv")
      const target = path.join(session !== null ? settings.recordDir : settings.multiRecordDir, fileName)
      const result = yield* Effect.tryPromise(() => moveFile(source, target)).pipe(Effect.result)
      if (result._tag === "Failure") {
        yield* Effect.logError(`crash recovery: cannot move ${source} to ${target}: ${String(result.failure)}`)
        continue
      }
      moved.push({ path: target, streamName: "", multiUri: multi?.[1], how })
    }
    return moved
  })

/** Rename, or copy + fsync + rename when the temp dir is on another filesystem; never a partial final name. */
const moveFile = async (source: string, target: string) => {
  try {
    await fsp.rename(source, target)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EXDEV") throw error
    const part = `${target}.part`
    await fsp.copyFile(source, part)
    const handle = await fsp.open(part, "r+")
    await handle.sync().finally(() => handle.close())
    await fsp.rename(part, target)
    await fsp.rm(source, { force: true })
  }
}
