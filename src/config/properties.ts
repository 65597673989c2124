/**
 * Parses the text of a `.properties` file (flashphoner.properties style) into entries with their line
 * numbers. Pure: the config layer turns duplicates into warnings and malformed lines into errors.
 *
 * Supported syntax (a subset of java.util.Properties, enough for the manual's keys):
 * - `key=value`; the first `=` splits, so values may contain `=`; whitespace around key and value is trimmed.
 * - Lines whose first non-blank character is `#` or `!` are comments; blank lines are skipped.
 * - No escapes and no `\` line continuations: a value is the rest of its line, verbatim, so Windows paths
 *   and `exclude_record_name_characters=:.,/\` keep their backslashes. A `#` after the key is part of the value.
 */

export interface PropertyEntry {
  readonly key: string
  readonly value: string
  /** 1-based line number in the source text. */
  readonly line: number
}

export interface DuplicateKey {
  readonly key: string
  /** The line whose value wins (the later one). */
  readonly line: number
  readonly previousLine: number
}

export interface MalformedLine {
  readonly line: number
  readonly text: string
}

export interface ParsedProperties {
  /** One entry per key, in order of first appearance, holding the value of its last occurrence. */
  readonly entries: ReadonlyArray<PropertyEntry>
  readonly duplicates: ReadonlyArray<DuplicateKey>
  /** Non-comment lines without `=` or with an empty key. */
  readonly malformed: ReadonlyArray<MalformedLine>
}

export const parseProperties = (text: string): ParsedProperties => {
  const byKey = new Map<string, PropertyEntry>()
  const duplicates: Array<DuplicateKey> = []
  const malformed: Array<MalformedLine> = []
  const lines = text.split(/\r\n|\n|\r/)
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index]!
    const line = index + 1
    const trimmed = raw.trim()
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith("!")) continue
    const eq = trimmed.indexOf("=")
    const key = eq < 0 ? "" : trimmed.slice(0, eq).trim()
    if (key === "") {
      malformed.push({ line, text: trimmed })
      continue
    }
    const value = trimmed.slice(eq + 1).trim()
    const previous = byKey.get(key)
    if (previous !== undefined) duplicates.push({ key, line, previousLine: previous.line })
    // Map.set on an existing key keeps its insertion position: first appearance order, last value.
    byKey.set(key, { key, value, line })
  }
  return { entries: [...byKey.values()], duplicates, malformed }
}
