/**
 * Turns a rendered template into a safe record file name: `exclude_record_name_characters` removal, then
 * `encode_record_name`, then the rotation index `_N` and the container extension, within 255 bytes.
 *
 * Decisions (the manual leaves them open):
 * - HEX is the lowercase hex of the UTF-8 bytes. BASE64 is base64url without padding (RFC 4648 section 5):
 *   standard base64 uses `/`, which cannot appear in a file name.
 * - Without encoding, `/`, `\`, NUL and other control characters become `_`, a leading `.` (hidden file, `.`,
 *   `..`) becomes `_`, and an empty name becomes `_`. Unpaired UTF-16 surrogates become `_` in every mode.
 * - The 255 limit is in UTF-8 bytes (what Linux file systems count). The base name is cut at a character
 *   boundary before `_N.ext` is appended, so the index and extension are always kept. When encoding, the input is
 *   cut before it is encoded, so an encoded name always decodes to a whole prefix of the input.
 */
import type { RecordContainer } from "../../config/record-formats.ts"
import { renderTemplate } from "./template.ts"
import type { TemplateValues } from "./template.ts"

export type RecordNameEncoding = "none" | "hex" | "base64"

/** NAME_MAX of ext4, xfs, btrfs: bytes per path component. */
export const MAX_FILE_NAME_BYTES = 255

export interface RecordNameOptions {
  /** Characters removed from the rendered name (`exclude_record_name_characters`), each code point on its own. */
  readonly excludeCharacters: string
  readonly encoding: RecordNameEncoding
  /** The rotation part number, appended as `_N`; leave undefined when rotation or its index is disabled. */
  readonly index?: number | undefined
  /** The container, which is also the extension. */
  readonly extension: RecordContainer
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const UNSAFE = /[\u0000-\u001f\u007f-\u009f/\\]/g

export const removeCharacters = (text: string, characters: string): string => {
  if (characters === "") return text
  const excluded = new Set(characters)
  let out = ""
  for (const char of text) if (!excluded.has(char)) out += char
  return out
}

/** `/`, `\`, control characters and a leading dot replaced by `_`; never empty. */
export const sanitizeFileName = (name: string): string => {
  const safe = name.replace(LONE_SURROGATE, "_").replace(UNSAFE, "_")
  if (safe === "") return "_"
  return safe.startsWith(".") ? `_${safe.slice(1)}` : safe
}

const utf8Length = (codePoint: number): number =>
  codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4

/** The longest prefix of `text` whose UTF-8 encoding fits in `maxBytes`, cut between code points. */
export const utf8Prefix = (text: string, maxBytes: number): string => {
  let bytes = 0
  let end = 0
  for (const char of text) {
    bytes += utf8Length(char.codePointAt(0)!)
    if (bytes > maxBytes) break
    end += char.length
  }
  return text.slice(0, end)
}

const encodeWithin = (text: string, encoding: "hex" | "base64", maxChars: number): string => {
  // hex: 2 characters per byte; base64url without padding: ceil(4n/3) characters for n bytes.
  const maxBytes = encoding === "hex" ? Math.floor(maxChars / 2) : Math.floor((maxChars * 3) / 4)
  const bytes = Buffer.from(utf8Prefix(text, maxBytes), "utf8")
  return bytes.toString(encoding === "hex" ? "hex" : "base64url")
}

/** The final file name (no directory) for a rendered template. */
export const recordFileName = (rendered: string, options: RecordNameOptions): string => {
  const index = options.index === undefined ? "" : `_${Math.trunc(options.index)}`
  const suffix = `${index}.${options.extension}`
  const budget = MAX_FILE_NAME_BYTES - Buffer.byteLength(suffix, "utf8")
  const kept = removeCharacters(rendered, options.excludeCharacters).replace(LONE_SURROGATE, "_")
  const base = options.encoding === "none"
    ? utf8Prefix(sanitizeFileName(kept), budget)
    : encodeWithin(kept, options.encoding, budget)
  return `${base === "" ? "_" : base}${suffix}`
}

/** Renders the template with what is known and builds the file name from it in one step. */
export const recordFileNameFor = (template: string, values: TemplateValues, options: RecordNameOptions): string =>
  recordFileName(renderTemplate(template, values), options)
