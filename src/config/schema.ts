/**
 * The one table of Capstan's config keys: each key's kind of value, default text and short doc. The defaults,
 * the decoding, the typed `CapstanConfigShape` and the check of the shipped config/capstan.properties all come
 * from it. Key names and defaults follow the manual (flashphoner.properties), plus a few server keys of ours.
 */
import type { Option } from "effect"
import { RecordFormatsKind } from "./record-formats.ts"
import { RotationKind } from "./rotation.ts"
import {
  Bool,
  ByteSize,
  ContentDisposition,
  EncodeRecordName,
  Host,
  HostList,
  intRange,
  Minutes,
  MultiRecordFormat,
  NonNegativeInt,
  OptionalPath,
  Path,
  Port,
  PortRange,
  PositiveInt,
  Seconds,
  Template,
  Text
} from "./values.ts"
import type { KindType, ValueKind } from "./value-kind.ts"

export interface ConfigEntry<A> {
  readonly kind: ValueKind<A>
  /** The default as property text, exactly as the shipped file writes it. */
  readonly default: string
  readonly doc: string
}

const entry = <A>(kind: ValueKind<A>, defaultText: string, doc: string): ConfigEntry<A> => ({
  kind,
  default: defaultText,
  doc
})

export const configTable = {
  // Which streams are recorded
  record_streams: entry(Bool, "true", "Record published streams at all"),
  record_flash_published_streams: entry(Bool, "true", "Record streams published over RTMP"),
  record_rtsp_streams: entry(Bool, "false", "Record streams captured from RTSP cameras"),
  record_mixer_streams: entry(Bool, "false", "Record mixer output streams"),
  // Containers
  record_formats: entry(RecordFormatsKind, "h264-mp4, vp8-webm", "Container per video codec"),
  record_h264_to_ts: entry(Bool, "false", "Record H.264 to MPEG-TS, over record_formats"),
  // File names
  stream_record_policy_template: entry(Template, "stream-{mediaSessionId}-{login}", "Record file name template"),
  encode_record_name: entry(EncodeRecordName, "false", "false, true,HEX or true,BASE64 (base64url)"),
  exclude_record_name_characters: entry(Text, "", "Characters removed from record file names"),
  // Rotation
  record_rotation: entry(RotationKind, "disabled", "disabled, N seconds or NM megabytes per part"),
  record_rotation_index_enabled: entry(Bool, "true", "Append _N to the names of rotated parts"),
  record_audio_buffer_max_size: entry(NonNegativeInt, "100", "Audio packets buffered to keep A/V sync"),
  // Hook
  on_record_hook_script: entry(OptionalPath, "", "Run with (stream, absolute file) after each record; empty: none"),
  on_record_hook_timeout: entry(Seconds, "60", "Seconds before the hook script is killed"),
  // Directories
  record_dir: entry(Path, "./records", "Where records are written; relative to the working directory"),
  record_tmp_dir: entry(OptionalPath, "", "Temporary files while recording; empty: record_dir"),
  // Audio
  record_audio_codec_sample_rate: entry(intRange(8000, 96000, "a sample rate in Hz"), "44100", "Audio sample rate"),
  record_audio_codec_channels: entry(intRange(1, 2), "2", "Audio channels: 1 or 2"),
  record_fdk_aac_bitrate_mode: entry(intRange(0, 5), "5", "AAC bitrate mode: 0 CBR, 1-5 VBR"),
  // MP4
  mp4_container_moov_first: entry(Bool, "true", "Put moov before mdat (progressive download)"),
  mp4_container_moov_first_reserve_space: entry(Bool, "false", "Reserve space for moov at the start"),
  mp4_container_moov_reserved_space_size: entry(PositiveInt, "2048", "Reserved moov space in kilobytes"),
  mp4_container_write_header_on_fly: entry(Bool, "false", "Rewrite the MP4 header while recording"),
  mp4_container_write_header_on_fly_interval: entry(Seconds, "5", "Seconds between header rewrites"),
  // Performance
  file_recorder_thread_pool_max_size: entry(PositiveInt, "4", "Recording writer threads"),
  // WebM
  webm_java_writer_enable: entry(Bool, "true", "Use the built-in WebM writer"),
  webm_cluster_duration_limit: entry(NonNegativeInt, "100000", "WebM cluster duration limit in milliseconds"),
  webm_cluster_size_limit: entry(ByteSize, "131072", "WebM cluster size limit in bytes"),
  // Disk and errors
  file_recorder_min_space: entry(ByteSize, "1g", "Stop or refuse recording below this free space"),
  file_recorder_error_interval: entry(Minutes, "60", "Error budget window in minutes"),
  file_recorder_max_errors_per_interval: entry(PositiveInt, "3", "Errors in the window that stop a recording"),
  record_stop_timeout: entry(Seconds, "15", "Seconds to wait for a recording to finish on stop"),
  // Download
  record_response_content_disposition_header_value: entry(ContentDisposition, "inline", "inline or attachment"),
  mp4_cutter_dir: entry(OptionalPath, "", "Where cut fragments are stored; empty: record_dir"),
  // Multi-recorder
  multi_record_dir: entry(OptionalPath, "", "Where multi-recorder files go; empty: record_dir"),
  on_multiple_record_hook_script: entry(OptionalPath, "", "Run after each multi-record; empty: bin/on_multiple_record_hook.sh (mixes)"),
  multi_recorder_mkv_fill_gaps: entry(Bool, "true", "Fill gaps of streams pulled from MKV multi-records"),
  multi_record_format: entry(
    MultiRecordFormat,
    "",
    "mp4 or mkv (MKV also holds VP8, Opus, G.711, G.722); empty: mkv when record_formats records H.264 to MKV"
  ),
  // WebRTC
  periodic_fir_request: entry(Bool, "false", "Ask WebRTC publishers for keyframes periodically"),
  webrtc_pre_init: entry(Bool, "false", "Initialize the WebRTC stack at startup"),
  webrtc_ice_host_addresses: entry(HostList, "", "ICE host candidates to advertise (e.g. 127.0.0.1); empty: werift's own"),
  webrtc_port_range: entry(PortRange, "", "UDP ports for WebRTC as MIN-MAX; empty: any"),
  // MPEG-TS over UDP
  mpegts_stream_timeout: entry(Seconds, "10", "Seconds without data after which an MPEG-TS stream ends"),
  // Tools
  ffmpeg_path: entry(OptionalPath, "", "ffmpeg binary; empty: PATH, then @ffmpeg-installer/ffmpeg"),
  // Server
  http_port: entry(Port, "8081", "REST API and downloads port"),
  rtmp_port: entry(Port, "1935", "RTMP ingest port"),
  bind_address: entry(Host, "0.0.0.0", "Address the servers listen on")
} satisfies Record<string, ConfigEntry<any>>

export type ConfigTable = typeof configTable
export type ConfigKey = keyof ConfigTable

export const configKeys: ReadonlyArray<ConfigKey> = Object.keys(configTable) as Array<ConfigKey>

export const isConfigKey = (key: string): key is ConfigKey => Object.hasOwn(configTable, key)

type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S

/** `record_tmp_dir` -> `recordTmpDir`: the field of each key in `CapstanConfigShape`. */
export const fieldOf = <K extends ConfigKey>(key: K): CamelCase<K> =>
  key.replace(/_([a-z0-9])/g, (_, char: string) => char.toUpperCase()) as CamelCase<K>

/** Every key decoded, under its camelCase field name, before directories are resolved. */
export type ConfigValues = {
  readonly [K in ConfigKey as CamelCase<K>]: KindType<ConfigTable[K]["kind"]>
}

/**
 * The decoded configuration. Every directory is absolute and the optional ones are already resolved to
 * `recordDir` when left empty; the hook scripts are absolute when set.
 */
export interface CapstanConfigShape extends Omit<ConfigValues, "recordTmpDir" | "mp4CutterDir" | "multiRecordDir"> {
  readonly recordDir: string
  readonly recordTmpDir: string
  readonly mp4CutterDir: string
  readonly multiRecordDir: string
  readonly onRecordHookScript: Option.Option<string>
  readonly onMultipleRecordHookScript: Option.Option<string>
}
