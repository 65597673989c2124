/**
 * The name drawn in a participant's cell (manual: "Stream name displaying in mixed multiple record" and
 * "Characters decoding in stream name"), and the font it is drawn with.
 */
import * as fs from "node:fs"
import { decodeOrKeep } from "./track-name.ts"

/** What a label needs from offline_mixer.json. */
export interface LabelSettings {
  readonly mixerDisplayStreamName: boolean
  readonly mixerTextDisplayRoom: boolean
  readonly labelReplaceRegex: string | undefined
  readonly labelReplaceWith: string
  readonly mixerDecodeStreamName: boolean
}

/**
 * RoomApi stream names are `{room}-{roomId}-{participant}-{streamId}` (room-1882a6-bob-037c): the participant is
 * the group. Used when mixerTextDisplayRoom is false and no labelReplaceRegex is set. (The manual's example pattern,
 * `\w+-\w+-([\^\-]+)-\w+`, has lost a character in print: its class matches only `^` and `-`, never "bob".)
 */
export const ROOM_API_PATTERN = "^[^-]+-[^-]+-(.+)-[^-]+$"

/**
 * The label of a stream, or undefined when names are not drawn. Steps: undo the client's encodeURIComponent
 * (mixerDecodeStreamName); then, when mixerTextDisplayRoom is false, replace every match of labelReplaceRegex with
 * labelReplaceWith. An empty labelReplaceWith "excludes the items": a pattern with a group keeps only what the
 * first group matched (`$1`), a pattern without one deletes the matches. A label that would be empty keeps the name.
 */
export const streamLabel = (streamName: string, settings: LabelSettings): string | undefined => {
  if (!settings.mixerDisplayStreamName) return undefined
  const name = settings.mixerDecodeStreamName ? decodeOrKeep(streamName) : streamName
  if (settings.mixerTextDisplayRoom) return name
  const pattern = new RegExp(settings.labelReplaceRegex ?? ROOM_API_PATTERN, "g")
  const hasGroup = new RegExp(`${pattern.source}|`).exec("")!.length > 1
  const replacement = settings.labelReplaceWith !== "" ? settings.labelReplaceWith : hasGroup ? "$1" : ""
  const label = name.replace(pattern, replacement)
  return label === "" ? name : label
}

/** Where Debian's fonts-dejavu-core puts DejaVu Sans. */
export const DEJAVU_SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

export type LabelFont =
  | { readonly _tag: "File"; readonly path: string }
  /** No font file found: drawtext asks fontconfig for this family. */
  | { readonly _tag: "Family"; readonly family: string }

/** The configured fontFile, else DejaVu Sans if installed, else fontconfig's "Sans". */
export const findLabelFont = (configured: string | undefined, exists = fs.existsSync): LabelFont => {
  if (configured !== undefined) return { _tag: "File", path: configured }
  return exists(DEJAVU_SANS) ? { _tag: "File", path: DEJAVU_SANS } : { _tag: "Family", family: "Sans" }
}
