/**
 * What a download of a record file may name and how it is labelled: which names are refused before the disk is
 * touched, the Content-Type by extension, and the Content-Disposition of the manual ("How to play or download
 * recording file"). Plain functions over strings.
 */

/** Suffixes of files still being written (muxer temp files, indexes, headers); never served. */
export const unfinishedSuffixes: ReadonlyArray<string> = [".part", ".tmp", ".idx", ".header"]

const controlCharacter = /[\u0000-\u001f\u007f]/
/** A percent escape left after the one decoding: double encoding (`%252f`) or a name meant to be decoded twice. */
const percentEscape = /%[0-9a-f]{2}/i

/**
 * Why `name` (the URL segment after its one percent-decoding) can never be a servable record file, or undefined
 * when it may be one. Only names directly inside record_dir qualify: no separators, no dot files (hidden and temp
 * files such as `.x.part` start with a dot), no `.`/`..`, no control characters, no escapes left to decode again.
 */
export const refusedRecordFileName = (name: string): string | undefined => {
  if (name === "") return "the file name is empty"
  if (name.length > 255) return "the file name is longer than 255 characters"
  if (name.includes("/") || name.includes("\\")) return "the file name contains a path separator"
  if (controlCharacter.test(name)) return "the file name contains a control character"
  if (name.startsWith(".")) return "the file name starts with a dot (hidden, temporary, . or ..)"
  if (percentEscape.test(name)) return "the file name still contains a percent escape after decoding"
  const lower = name.toLowerCase()
  if (unfinishedSuffixes.some((suffix) => lower.endsWith(suffix))) return "the file is still being written"
  return undefined
}

const contentTypes: Readonly<Record<string, string>> = {
  mp4: "video/mp4",
  webm: "video/webm",
  mkv: "video/x-matroska",
  ts: "video/mp2t"
}

/** Content-Type by extension; anything else is `application/octet-stream`. */
export const recordContentType = (name: string): string => {
  const dot = name.lastIndexOf(".")
  return (dot < 0 ? undefined : contentTypes[name.slice(dot + 1).toLowerCase()]) ?? "application/octet-stream"
}

export type ContentDispositionType = "inline" | "attachment"

const nonAscii = /[^\u0020-\u007e]/u
const nonAsciiEach = /[^\u0020-\u007e]/gu

/** RFC 8187 `ext-value`: UTF-8 bytes, percent-encoded except attr-chars. */
const extValue = (name: string): string =>
  encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/**
 * `inline;filename="stream.mp4"`, exactly the manual's form, with `"` and `\` escaped as RFC 9110 §5.6.4
 * quoted-pairs. A name outside printable ASCII cannot go in a header as is: it gets an ASCII stand-in in
 * `filename` (`?` for each other character) and its real spelling in `filename*=UTF-8''...` (RFC 6266 §4.3).
 */
export const contentDisposition = (type: ContentDispositionType, name: string): string => {
  const quoted = (value: string) => `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`
  if (!nonAscii.test(name)) return `${type};filename=${quoted(name)}`
  return `${type};filename=${quoted(name.replace(nonAsciiEach, "?"))};filename*=UTF-8''${extValue(name)}`
}
