/**
 * offline_mixer.json (manual: "Multiple streams mixing tool" and the sections after it), decoded with Effect Schema
 * over the built-in defaults. Booleans are accepted as JSON booleans or as the strings "true"/"false" the manual
 * writes; sizes as a number of bytes or as text with a k, m or g suffix ("1G"). Unknown keys are reported as warnings.
 */
import * as os from "node:os"
import { Result, Schema } from "effect"
import { Bool, ByteSize } from "../config/values.ts"
import { MixerError } from "./mixer-error.ts"

/** JSON true/false or the manual's "true"/"false". */
const Flag = Schema.Union([Schema.Boolean, Bool.schema])
/** 1073741824, "1073741824", "1G", "1024m". */
const Size = Schema.Union([Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)), ByteSize.schema])
const Positive = Schema.Int.check(Schema.isGreaterThan(0))

export const MixerSettingsJson = Schema.Struct({
  hasVideo: Schema.optionalKey(Flag),
  hasAudio: Schema.optionalKey(Flag),
  /** Draw each stream's name in its cell. */
  mixerDisplayStreamName: Schema.optionalKey(Flag),
  /** When false, labelReplaceRegex takes the room out of RoomApi stream names (room-1882a6-bob-037c -> bob). */
  mixerTextDisplayRoom: Schema.optionalKey(Flag),
  labelReplaceRegex: Schema.optionalKey(Schema.String),
  labelReplaceWith: Schema.optionalKey(Schema.String),
  /** Undo the client's encodeURIComponent in stream names before drawing them. */
  mixerDecodeStreamName: Schema.optionalKey(Flag),
  multithreading: Schema.optionalKey(Flag),
  threadCount: Schema.optionalKey(Positive),
  callbackUrl: Schema.optionalKey(Schema.String),
  minAvailableSpace: Schema.optionalKey(Size),
  /** Capstan's own keys: the mixed picture and the label font. */
  outputWidth: Schema.optionalKey(Positive),
  outputHeight: Schema.optionalKey(Positive),
  outputFps: Schema.optionalKey(Positive),
  fontFile: Schema.optionalKey(Schema.String)
})

export interface MixerSettings {
  readonly hasVideo: boolean
  readonly hasAudio: boolean
  readonly mixerDisplayStreamName: boolean
  readonly mixerTextDisplayRoom: boolean
  /** Undefined: the RoomApi pattern (label.ts) when mixerTextDisplayRoom is false. */
  readonly labelReplaceRegex: string | undefined
  readonly labelReplaceWith: string
  readonly mixerDecodeStreamName: boolean
  readonly multithreading: boolean
  readonly threadCount: number
  readonly callbackUrl: string | undefined
  /** Bytes. */
  readonly minAvailableSpace: number
  readonly outputWidth: number
  readonly outputHeight: number
  readonly outputFps: number
  /** Undefined: DejaVu Sans where Debian puts it, else fontconfig's "Sans" (label.ts). */
  readonly fontFile: string | undefined
}

const GIB = 1024 * 1024 * 1024

/** Half the CPUs, at least one (manual: "By default, threads count is equal to a half of CPUs available"). */
export const defaultThreadCount = (cpus: number = os.availableParallelism()): number =>
  Math.max(1, Math.floor(cpus / 2))

export const defaultMixerSettings: MixerSettings = {
  hasVideo: true,
  hasAudio: true,
  mixerDisplayStreamName: true,
  mixerTextDisplayRoom: true,
  labelReplaceRegex: undefined,
  labelReplaceWith: "",
  mixerDecodeStreamName: false,
  multithreading: false,
  threadCount: defaultThreadCount(),
  callbackUrl: undefined,
  minAvailableSpace: GIB,
  outputWidth: 1280,
  outputHeight: 720,
  outputFps: 30,
  fontFile: undefined
}

export interface DecodedMixerSettings {
  readonly settings: MixerSettings
  readonly warnings: ReadonlyArray<string>
}

const badSettings = (message: string) => new MixerError({ reason: "BadSettings", message })

const checkValues = (settings: MixerSettings): string | undefined => {
  if (settings.labelReplaceRegex !== undefined) {
    try {
      new RegExp(settings.labelReplaceRegex)
    } catch (cause) {
      return `labelReplaceRegex is not a regular expression: ${cause instanceof Error ? cause.message : String(cause)}`
    }
  }
  if (settings.callbackUrl !== undefined && !/^https?:\/\/[^\s]+$/i.test(settings.callbackUrl)) {
    return `callbackUrl ${JSON.stringify(settings.callbackUrl)} is not an http(s) URL`
  }
  if (settings.outputWidth % 2 !== 0 || settings.outputHeight % 2 !== 0) {
    const size = `${settings.outputWidth}x${settings.outputHeight}`
    return `outputWidth and outputHeight must be even (4:2:0 video), got ${size}`
  }
  return undefined
}

/** Decodes the parsed JSON of offline_mixer.json over the defaults; `source` names the file in messages. */
export const decodeMixerSettings = (
  json: unknown,
  source = "offline_mixer.json",
  defaults: MixerSettings = defaultMixerSettings
): Result.Result<DecodedMixerSettings, MixerError> => {
  const decoded = Schema.decodeUnknownResult(MixerSettingsJson)(json, { onExcessProperty: "ignore" })
  if (Result.isFailure(decoded)) {
    return Result.fail(badSettings(`${source}: ${decoded.failure.message.replace(/\s*\n\s*/g, " ")}`))
  }
  const known = new Set(Object.keys(MixerSettingsJson.fields))
  const warnings = typeof json === "object" && json !== null
    ? Object.keys(json).filter((key) => !known.has(key)).map((key) => `${source}: unknown key "${key}" is ignored`)
    : []
  const settings: MixerSettings = { ...defaults, ...decoded.success }
  const problem = checkValues(settings)
  return problem === undefined
    ? Result.succeed({ settings, warnings })
    : Result.fail(badSettings(`${source}: ${problem}`))
}

/** Parses and decodes the text of offline_mixer.json; `source` names the file in messages. */
export const parseMixerSettings = (
  text: string,
  source = "offline_mixer.json",
  defaults: MixerSettings = defaultMixerSettings
): Result.Result<DecodedMixerSettings, MixerError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return Result.fail(badSettings(`${source} is not JSON: ${cause instanceof Error ? cause.message : String(cause)}`))
  }
  return decodeMixerSettings(json, source, defaults)
}
