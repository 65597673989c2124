/**
 * `capstan offline-mixer [--show-tracks-info | --pull-streams] FILE [--config offline_mixer.json]` (manual:
 * "Multiple streams mixing tool"): prints the tracks as JSON, pulls each stream into its own MKV, or mixes the file
 * into `{name}_mixed.mp4`. stdout carries only the result (the JSON, or the paths written, one a line); logs and the
 * progress bar go to stderr. Any failure exits 1 with one line on stderr; for low disk space that line starts with
 * "Not enough available disk space" and says whether the mix did not start or was stopped with its file kept.
 */
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { Console, Effect, Layer, Logger, Option, Result } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { FetchHttpClient } from "effect/http"
import { DiskSpace } from "../pipelines/disk-guard.ts"
import { MixerError } from "./mixer-error.ts"
import { defaultMixerSettings, type MixerSettings, parseMixerSettings } from "./mixer-settings.ts"
import { findFfprobe, findMixerTools } from "./mixer-tools.ts"
import { readMultiRecording } from "./multi-recording.ts"
import { mixMultiRecording } from "./offline-mixer.ts"
import { pullStreams } from "./pull-streams.ts"
import { tracksInfoJson } from "./tracks-info.ts"

/** The shipped offline_mixer.json (the manual's defaults), used when --config and the variable are not given. */
export const DEFAULT_SETTINGS_FILE = fileURLToPath(new URL("../../config/offline_mixer.json", import.meta.url))
export const SETTINGS_ENV = "CAPSTAN_OFFLINE_MIXER_CONFIG"

/** --config, else $CAPSTAN_OFFLINE_MIXER_CONFIG, else the shipped file if present, else the built-in defaults. */
export const loadMixerSettings = Effect.fn("OfflineMixer.loadSettings")(function*(configFile: Option.Option<string>) {
  const file = Option.getOrUndefined(configFile) ?? (process.env[SETTINGS_ENV] || undefined) ??
    (fs.existsSync(DEFAULT_SETTINGS_FILE) ? DEFAULT_SETTINGS_FILE : undefined)
  if (file === undefined) return defaultMixerSettings
  const text = yield* Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (cause) => new MixerError({ reason: "BadSettings", message: `cannot read ${file}: ${String(cause)}` })
  })
  const decoded = parseMixerSettings(text, file)
  if (Result.isFailure(decoded)) return yield* decoded.failure
  for (const warning of decoded.success.warnings) yield* Effect.logWarning(warning)
  return decoded.success.settings satisfies MixerSettings
})

export interface OfflineMixerArgs {
  readonly file: string
  readonly showTracksInfo: boolean
  readonly pullStreams: boolean
  readonly config: Option.Option<string>
  readonly uri: Option.Option<string>
  readonly fillGaps: boolean
}

/** What the command does, given its parsed arguments; needs the Node services (ChildProcessSpawner). */
export const runOfflineMixer = Effect.fn("OfflineMixer.run")(function*(args: OfflineMixerArgs) {
  if (args.showTracksInfo && args.pullStreams) {
    const message = "--show-tracks-info and --pull-streams exclude each other"
    return yield* new MixerError({ reason: "BadSettings", message })
  }
  if (args.showTracksInfo) {
    const ffprobe = findFfprobe(undefined) ?? "ffprobe"
    const recording = yield* readMultiRecording(args.file, ffprobe)
    return yield* Console.log(tracksInfoJson(recording))
  }
  const tools = yield* findMixerTools()
  if (args.pullStreams) {
    const pulled = yield* pullStreams({ file: args.file, tools, fillGaps: args.fillGaps })
    for (const stream of pulled) yield* Console.log(stream.path)
    return
  }
  const settings = yield* loadMixerSettings(args.config)
  const recorderUri = Option.getOrUndefined(args.uri)
  const result = yield* mixMultiRecording({ file: args.file, settings, tools, recorderUri })
  yield* Console.log(result.output)
})

/** The `offline-mixer` subcommand, ready for `Command.withSubcommands`. */
export const offlineMixerCommand = Command.make("offline-mixer", {
  showTracksInfo: Flag.Boolean("show-tracks-info").pipe(
    Flag.withDescription("Print the tracks of FILE as JSON (one object per track)"),
    Flag.withDefault(false)
  ),
  pullStreams: Flag.Boolean("pull-streams").pipe(
    Flag.withDescription("Write one MKV per stream of FILE, FILE_{mediaSessionId}.mkv, copying the media"),
    Flag.withDefault(false)
  ),
  config: Flag.File("config").pipe(
    Flag.withDescription(`offline_mixer.json; defaults to $${SETTINGS_ENV}, then config/offline_mixer.json`),
    Flag.optional
  ),
  uri: Flag.String("uri").pipe(
    Flag.withDescription("The recorder's URI for the callback (default: from the file name multi-recorder___x)"),
    Flag.optional
  ),
  fillGaps: Flag.Boolean("fill-gaps").pipe(
    Flag.withDescription("--pull-streams: fill gaps with black and silence (multi_recorder_mkv_fill_gaps)"),
    Flag.withDefault(true)
  ),
  file: Argument.File("file", { mustExist: true }).pipe(Argument.withDescription("The multi-recording (MP4 or MKV)"))
}, (args) =>
  runOfflineMixer(args).pipe(
    Effect.provide(Layer.merge(DiskSpace.layer, FetchHttpClient.layer)),
    // Logs on stderr, so that stdout holds only the command's result.
    Effect.provideService(Logger.LogToStderr, true)
  )).pipe(
    Command.withDescription("Mix a multi-recording into FILE_mixed.mp4, show its tracks, or pull its streams")
  )
