/**
 * At every start, before publishers are accepted: turns what a crash left in the temp and record directories
 * into playable recordings (crash-recovery.ts), names them with the record template, and runs the record hook
 * for each, as if they had finished normally.
 */
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Clock, Effect, Layer } from "effect"
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
    const { runHook, settings } = yield* RecorderEnvironment
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
      yield* Effect.logInfo(`recovered ${file.path} after a crash: kept as written up to its last flushed cluster`)
      yield* runHook(file.streamName, file.path)
    }
  }))

/** A Matroska or MPEG-TS temp file of a session (media-session.ts names them `.ID_N.EXT.tmp`). */
const STREAMING_TEMP = /^\.(.+)_(\d+)\.(mkv|webm|ts)\.tmp$/

/**
 * WebM, MKV and MPEG-TS temp files play as they are up to their last flushed cluster or packet (their writers keep
 * them readable), so a crash leftover is moved into record_dir under the template's name. Returns what was moved.
 */
export const moveStreamingLeftovers = (settings: RecorderSettings, nowMillis: number) =>
  Effect.gen(function*() {
    const moved: Array<{ readonly path: string; readonly streamName: string }> = []
    const names = yield* Effect.promise(() => fsp.readdir(settings.tmpDir).catch(() => [] as Array<string>))
    for (const name of names) {
      const match = STREAMING_TEMP.exec(name)
      if (match === null) continue
      const [, mediaSessionId, index, extension] = match
      const source = path.join(settings.tmpDir, name)
      const stats = yield* Effect.promise(() => fsp.stat(source).catch(() => undefined))
      if (stats === undefined || stats.size === 0) {
        yield* Effect.promise(() => fsp.rm(source, { force: true }))
        continue
      }
      const fileName = settings.fileName(settings.template, {
        streamName: `${mediaSessionId}_${index}`,
        mediaSessionId: mediaSessionId!,
        sessionId: "",
        login: "",
        videoCodec: "",
        audioCodec: "",
        startTime: 0,
        endTime: undefined,
        durationMillis: undefined,
        startTimeMillis: Math.round(stats.birthtimeMs || nowMillis),
        endTimeMillis: Math.round(stats.mtimeMs),
        index: Number(index),
        rotating: settings.rotation._tag !== "Disabled"
      }, extension!)
      const target = path.join(settings.recordDir, fileName)
      const result = yield* Effect.tryPromise(() => moveFile(source, target)).pipe(Effect.result)
      if (result._tag === "Failure") {
        yield* Effect.logError(`crash recovery: cannot move ${source} to ${target}: ${String(result.failure)}`)
        continue
      }
      moved.push({ path: target, streamName: "" })
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
