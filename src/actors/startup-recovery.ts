/**
 * At every start, before publishers are accepted: turns what a crash left in the temp and record directories
 * into playable recordings (crash-recovery.ts), names them with the record template, and runs the record hook
 * for each, as if they had finished normally.
 */
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
  }))
