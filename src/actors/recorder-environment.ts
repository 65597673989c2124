/**
 * Builds the recorder's settings from the decoded server config: name rendering, rotation parsing,
 * the container for each codec, and the record hook bound to the platform's process spawner.
 */
import { fileURLToPath } from "node:url"
import { Duration, Effect, Layer, Option, Result } from "effect"
import { ChildProcessSpawner } from "effect/process"
import { recordContainerFor, type RecordContainer } from "../config/record-formats.ts"
import { parseRotation } from "../config/rotation.ts"
import { CapstanConfig } from "../config/service.ts"
import type { VideoCodec } from "../media/frame.ts"
import { containerFormats } from "../containers/container-formats.ts"
import { makeErrorBudgetPolicy } from "../pipelines/error-budget.ts"
import { recordFileName } from "../pipelines/naming/record-name.ts"
import { renderTemplate, templateProblem } from "../pipelines/naming/template.ts"
import type { NameFields } from "../pipelines/recording.ts"
import { runRecordHook } from "./record-hook.ts"
import { RecorderEnvironment, type RecorderSettings } from "./recorder-settings.ts"

/** bin/on_multiple_record_hook.sh of this checkout: runs the offline mixer on the finished multi-recording. */
const DEFAULT_MULTI_HOOK = fileURLToPath(new URL("../../bin/on_multiple_record_hook.sh", import.meta.url))

/** Mixing takes about as long as the recording lasted; the bound only stops a hook that hangs for good. */
const MULTI_HOOK_TIMEOUT = Duration.hours(12)

export const recorderEnvironmentLayer: Layer.Layer<
  RecorderEnvironment,
  never,
  CapstanConfig | ChildProcessSpawner.ChildProcessSpawner
> = Layer.effect(
    RecorderEnvironment,
    Effect.gen(function*() {
      const config = yield* CapstanConfig
      const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
      const formats = containerFormats(config)
      const hookScript = Option.getOrUndefined(config.onRecordHookScript)
      const settings: RecorderSettings = {
        recordStreams: config.recordStreams,
        recordDir: config.recordDir,
        tmpDir: config.recordTmpDir,
        template: config.streamRecordPolicyTemplate,
        rotation: config.recordRotation,
        audioBufferMax: config.recordAudioBufferMaxSize,
        stopTimeoutSeconds: Duration.toSeconds(config.recordStopTimeout),
        errorBudget: makeErrorBudgetPolicy({
          interval: config.fileRecorderErrorInterval,
          maxErrors: config.fileRecorderMaxErrorsPerInterval
        }),
        minSpaceBytes: config.fileRecorderMinSpace,
        hookScript,
        multiRecordDir: config.multiRecordDir,
        multiRecordFormat: config.multiRecordFormat === "auto"
          ? (recordContainerFor(config.recordFormats, config.recordH264ToTs, "H264") === "mkv" ? "mkv" : "mp4")
          : config.multiRecordFormat,
        clusterLimits: { clusterDurationMs: config.webmClusterDurationLimit, clusterSizeBytes: config.webmClusterSizeLimit },
        transcode: {
          sampleRate: config.recordAudioCodecSampleRate,
          channels: config.recordAudioCodecChannels,
          bitrateMode: config.recordFdkAacBitrateMode,
          ffmpegPath: Option.getOrUndefined(config.ffmpegPath)
        },
        hookTimeoutSeconds: Duration.toSeconds(config.onRecordHookTimeout),
        formatFor: (videoCodec) =>
          formats(recordContainerFor(config.recordFormats, config.recordH264ToTs, videoCodec as VideoCodec | undefined)),
        fileName: (template: string, fields: NameFields, extension: string) =>
          recordFileName(renderTemplate(template, fields), {
            excludeCharacters: config.excludeRecordNameCharacters,
            encoding: config.encodeRecordName,
            index: fields.rotating && config.recordRotationIndexEnabled ? fields.index : undefined,
            extension: extension as RecordContainer
          }),
        parseRotation: (value) => Result.getOrElse(parseRotation(value), (reason) => reason),
        checkTemplate: templateProblem
      }
      const runHook = (streamName: string, filePath: string) =>
        hookScript === undefined
          ? Effect.void
          : runRecordHook({ script: hookScript, streamName, filePath, timeout: config.onRecordHookTimeout }).pipe(
            Effect.asVoid,
            Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner)
          )
      // Without a script of the operator's, the bundled one mixes the file, as the manual's default does.
      const multiHookScript = Option.getOrElse(config.onMultipleRecordHookScript, () => DEFAULT_MULTI_HOOK)
      const runMultiHook = (uri: string, filePath: string) =>
        runRecordHook({ script: multiHookScript, streamName: uri, filePath, timeout: MULTI_HOOK_TIMEOUT }).pipe(
          Effect.asVoid,
          Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner)
        )
      return RecorderEnvironment.of({ settings, runHook, runMultiHook })
    })
  )
