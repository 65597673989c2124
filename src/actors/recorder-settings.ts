/**
 * The settings the recording actors read, decoded from the server config and overridable per
 * recording by the REST API. Declared here so the actors depend on this narrow shape only.
 */
import type { Effect } from "effect"
import { Context } from "effect"
import type { ClusterLimitOptions } from "../containers/matroska/index.ts"
import type { ContainerFormat } from "../pipelines/container-format.ts"
import type { NameFields } from "../pipelines/recording.ts"
import type { ErrorBudgetPolicy } from "../pipelines/error-budget.ts"
import type { Rotation } from "../pipelines/rotation-policy.ts"

export interface RecorderSettings {
  /** record_streams: whether streams whose protocol asks for it are recorded on publish. */
  readonly recordStreams: boolean
  readonly recordDir: string
  readonly tmpDir: string
  readonly template: string
  readonly rotation: Rotation
  readonly audioBufferMax: number
  readonly stopTimeoutSeconds: number
  /** file_recorder_error_interval and file_recorder_max_errors_per_interval. */
  readonly errorBudget: ErrorBudgetPolicy
  /** file_recorder_min_space in bytes, checked in record_dir and record_tmp_dir. */
  readonly minSpaceBytes: number
  readonly hookScript: string | undefined
  /** How audio MP4 cannot keep is transcoded to AAC, and with which ffmpeg (ffmpeg_path; else PATH, then npm's). */
  readonly transcode: {
    readonly sampleRate: number
    readonly channels: number
    readonly bitrateMode: number
    readonly ffmpegPath: string | undefined
  }
  /** multi_record_dir: where multi-stream recordings are written. */
  readonly multiRecordDir: string
  /** multi_record_format resolved: an empty key follows record_formats' container for H.264. */
  readonly multiRecordFormat: "mp4" | "mkv"
  /** webm_cluster_duration_limit and webm_cluster_size_limit, for the Matroska files written outside formatFor. */
  readonly clusterLimits: ClusterLimitOptions
  readonly hookTimeoutSeconds: number
  /** The container for a set of tracks (record_formats, record_h264_to_ts, audio-only to MP4). */
  readonly formatFor: (videoCodec: string | undefined) => ContainerFormat
  /** Renders a fragment's file name; unknown end fields stay as their `{tag}` while it is open. */
  readonly fileName: (template: string, fields: NameFields, extension: string) => string
  /** Parses a `config.rotation` override; a string error names what is expected. */
  readonly parseRotation: (value: string) => Rotation | string
  /** Checks a `config.fileTemplate` override; a string error names the problem. */
  readonly checkTemplate: (value: string) => string | undefined
}

/** The settings and the record hook, as the session registry receives them. */
export class RecorderEnvironment extends Context.Service<RecorderEnvironment, {
  readonly settings: RecorderSettings
  /** Runs on_record_hook_script for a finished file; logs and swallows its failures. */
  readonly runHook: (streamName: string, filePath: string) => Effect.Effect<void>
  /**
   * Runs on_multiple_record_hook_script with (recorder uri, absolute file path) for a finished multi-recording;
   * without one, the built-in offline mixer. Logs and swallows failures.
   */
  readonly runMultiHook: (uri: string, filePath: string) => Effect.Effect<void>
}>()("capstan/actors/RecorderEnvironment") {}
