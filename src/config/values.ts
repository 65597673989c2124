/**
 * The scalar kinds of config values: booleans, integers, durations, byte sizes, paths, addresses and the
 * small enumerations. Each has its own parse and its own message; see value-kind.ts.
 */
import { isIP } from "node:net"
import { Duration, Option, Schema } from "effect"
import type { RecordNameEncoding } from "../pipelines/naming/record-name.ts"
import { templateProblem } from "../pipelines/naming/template.ts"
import { invalid, makeValueKind, parseNatural } from "./value-kind.ts"
import type { ValueKind } from "./value-kind.ts"

export const Bool: ValueKind<boolean> = makeValueKind({
  expected: "true or false",
  type: Schema.Boolean,
  parse: (text) => {
    const lower = text.toLowerCase()
    return lower === "true" ? true : lower === "false" ? false : invalid()
  },
  format: (value) => String(value)
})

/** An integer within `min..max` (inclusive). */
export const intRange = (min: number, max: number, what = "an integer"): ValueKind<number> =>
  makeValueKind({
    expected: `${what} ${min}..${max}`,
    type: Schema.Int,
    parse: (text) => {
      const value = parseNatural(text)
      return value !== undefined && value >= min && value <= max ? value : invalid()
    },
    format: (value) => String(value)
  })

export const Port: ValueKind<number> = intRange(1, 65535, "an integer port")

export const NonNegativeInt: ValueKind<number> = makeValueKind({
  expected: "a non-negative integer",
  type: Schema.Int,
  parse: (text) => parseNatural(text) ?? invalid(),
  format: (value) => String(value)
})

export const PositiveInt: ValueKind<number> = makeValueKind({
  expected: "a positive integer",
  type: Schema.Int,
  parse: (text) => {
    const value = parseNatural(text)
    return value !== undefined && value > 0 ? value : invalid()
  },
  format: (value) => String(value)
})

const wholeUnits = (unit: "seconds" | "minutes", perUnit: number): ValueKind<Duration.Duration> =>
  makeValueKind({
    expected: `a whole number of ${unit}`,
    type: Schema.Duration,
    parse: (text) => {
      const value = parseNatural(text)
      return value === undefined ? invalid() : Duration.seconds(value * perUnit)
    },
    format: (value) => String(Math.round(Duration.toSeconds(value) / perUnit))
  })

export const Seconds: ValueKind<Duration.Duration> = wholeUnits("seconds", 1)
export const Minutes: ValueKind<Duration.Duration> = wholeUnits("minutes", 60)

const KIB = 1024
const MIB = 1024 * KIB
const GIB = 1024 * MIB
const byteUnits: Readonly<Record<string, number>> = { "": 1, k: KIB, m: MIB, g: GIB }

/** Plain bytes, or with a binary `k`, `m` or `g` suffix in either case: `1g` = `1024m` = `1073741824`. */
export const ByteSize: ValueKind<number> = makeValueKind({
  expected: "a size in bytes, or with a k, m or g suffix (e.g. 1g, 1024m)",
  type: Schema.Int,
  parse: (text) => {
    const match = /^(\d{1,13})([kmg]?)$/i.exec(text)
    if (match === null) return invalid()
    return Number(match[1]) * byteUnits[match[2]!.toLowerCase()]!
  },
  format: (bytes) =>
    bytes > 0 && bytes % GIB === 0 ? `${bytes / GIB}g` : bytes > 0 && bytes % MIB === 0 ? `${bytes / MIB}m` : `${bytes}`
})

/** A file or directory path as written (resolved against the working directory later). */
export const Path: ValueKind<string> = makeValueKind({
  expected: "a non-empty path",
  type: Schema.String,
  parse: (text) => (text === "" || text.includes("\0") ? invalid() : text),
  format: (value) => value
})

/** A path that may be left empty to mean "not set" (a fallback directory, no hook script). */
export const OptionalPath: ValueKind<Option.Option<string>> = makeValueKind({
  expected: "a path or nothing",
  type: Schema.Option(Schema.String),
  parse: (text) => (text.includes("\0") ? invalid() : text === "" ? Option.none() : Option.some(text)),
  format: (value) => Option.getOrElse(value, () => "")
})

/** A free string, possibly empty (e.g. `exclude_record_name_characters`). */
export const Text: ValueKind<string> = makeValueKind({
  expected: "text",
  type: Schema.String,
  parse: (text) => text,
  format: (value) => value
})

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i

/** An IPv4 or IPv6 address or a host name to bind or connect to. */
export const Host: ValueKind<string> = makeValueKind({
  expected: "an IP address or a host name",
  type: Schema.String,
  parse: (text) => {
    if (isIP(text) !== 0) return text
    // Dotted digits that are not an IPv4 address (999.1.1.1) are a typo, not a host name.
    return HOSTNAME.test(text) && !/^[\d.]+$/.test(text) ? text : invalid()
  },
  format: (value) => value
})

/** A comma-separated list of IP addresses; empty for none. */
export const HostList: ValueKind<ReadonlyArray<string>> = makeValueKind({
  expected: "comma-separated IP addresses, or nothing",
  type: Schema.Array(Schema.String),
  parse: (text) => {
    const hosts = text.split(",").map((host) => host.trim()).filter((host) => host !== "")
    return hosts.every((host) => isIP(host) !== 0) ? hosts : invalid()
  },
  format: (value) => value.join(",")
})

/** `min-max` UDP ports (min < max), or nothing for any port. */
export const PortRange: ValueKind<readonly [number, number] | undefined> = makeValueKind({
  expected: "MIN-MAX with 1 <= MIN < MAX <= 65535, or nothing",
  type: Schema.UndefinedOr(Schema.Tuple([Schema.Number, Schema.Number])),
  parse: (text) => {
    if (text === "") return undefined
    const match = /^(\d+)-(\d+)$/.exec(text)
    const [min, max] = match === null ? [NaN, NaN] : [Number(match[1]), Number(match[2])]
    return min >= 1 && min < max && max <= 65535 ? [min, max] as const : invalid()
  },
  format: (value) => (value === undefined ? "" : `${value[0]}-${value[1]}`)
})

export type ContentDisposition = "inline" | "attachment"

export const ContentDisposition: ValueKind<ContentDisposition> = makeValueKind({
  expected: "inline or attachment",
  type: Schema.Literals(["inline", "attachment"]),
  parse: (text) => {
    const lower = text.toLowerCase()
    return lower === "inline" || lower === "attachment" ? lower : invalid()
  },
  format: (value) => value
})

/** multi_record_format: `mp4`, `mkv`, or empty for "follow record_formats" (`auto`). */
export const MultiRecordFormat: ValueKind<"auto" | "mp4" | "mkv"> = makeValueKind({
  expected: "mp4, mkv or empty",
  type: Schema.Literals(["auto", "mp4", "mkv"]),
  parse: (text) => {
    const lower = text.trim().toLowerCase()
    return lower === "" ? "auto" : lower === "mp4" || lower === "mkv" ? lower : invalid()
  },
  format: (value) => (value === "auto" ? "" : value)
})

/** `false`, `true,HEX` or `true,BASE64` (manual: "Forming the name of the stream record file"). */
export const EncodeRecordName: ValueKind<RecordNameEncoding> = makeValueKind({
  expected: "false, true,HEX or true,BASE64",
  type: Schema.Literals(["none", "hex", "base64"]),
  parse: (text) => {
    const normalized = text.toLowerCase().replace(/\s+/g, "")
    return normalized === "false" ? "none" : normalized === "true,hex" ? "hex" : normalized === "true,base64"
      ? "base64"
      : invalid()
  },
  format: (value) => (value === "none" ? "false" : value === "hex" ? "true,HEX" : "true,BASE64")
})

/** A file name template (`stream_record_policy_template`, the REST `config.fileTemplate`). */
export const Template: ValueKind<string> = makeValueKind({
  expected: "a non-empty file name template",
  type: Schema.String,
  parse: (text) => {
    if (text === "") return invalid()
    const problem = templateProblem(text)
    return problem === undefined ? text : invalid(problem)
  },
  format: (value) => value
})
