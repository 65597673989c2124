/**
 * `record_formats`: which container each video codec is recorded to (manual: "MP4, WebM, MKV containers
 * support" and "Recording to MPEG-TS container"), and the rule that picks the container of a recording.
 */
import { Schema } from "effect"
import type { VideoCodec } from "../media/frame.ts"
import { invalid, makeValueKind } from "./value-kind.ts"
import type { ValueKind } from "./value-kind.ts"

export const RecordContainer = Schema.Literals(["mp4", "webm", "mkv", "ts"])
export type RecordContainer = typeof RecordContainer.Type

export const RecordFormats = Schema.Struct({
  h264: RecordContainer,
  vp8: Schema.Literals(["webm", "mkv"])
})
export type RecordFormats = typeof RecordFormats.Type

/** What each container can hold: MP4 and MPEG-TS have no VP8 mapping we write. */
const containersOf = {
  h264: ["mp4", "webm", "mkv", "ts"],
  vp8: ["webm", "mkv"]
} as const satisfies Record<keyof RecordFormats, ReadonlyArray<RecordContainer>>

export const defaultRecordFormats: RecordFormats = { h264: "mp4", vp8: "webm" }

const isContainer = (text: string): text is RecordContainer =>
  (RecordContainer.literals as ReadonlyArray<string>).includes(text)

export const RecordFormatsKind: ValueKind<RecordFormats> = makeValueKind({
  expected: `codec-container pairs such as "h264-mp4, vp8-webm" (codecs h264, vp8; containers mp4, webm, mkv, ts)`,
  type: RecordFormats,
  parse: (text) => {
    const chosen: { h264?: RecordContainer; vp8?: RecordContainer } = {}
    for (const item of text.split(",").map((part) => part.trim().toLowerCase())) {
      const match = /^(h264|vp8)-(\w+)$/.exec(item)
      if (match === null || !isContainer(match[2]!)) return invalid()
      const codec = match[1] as keyof RecordFormats
      const container = match[2] as RecordContainer
      if (chosen[codec] !== undefined) return invalid(`${codec} is listed twice`)
      const allowed: ReadonlyArray<RecordContainer> = containersOf[codec]
      if (!allowed.includes(container)) {
        const choices = allowed.map((allowedContainer) => `${codec}-${allowedContainer}`)
        return invalid(`${container} cannot hold ${codec} (in ${item}); expected ${choices.join(" or ")}`)
      }
      chosen[codec] = container
    }
    return {
      h264: chosen.h264 ?? defaultRecordFormats.h264,
      vp8: (chosen.vp8 ?? defaultRecordFormats.vp8) as RecordFormats["vp8"]
    }
  },
  format: (formats) => `h264-${formats.h264}, vp8-${formats.vp8}`
})

/**
 * The container of a new recording. `record_h264_to_ts=true` wins over `record_formats` for H.264, and
 * audio-only streams always go to MP4 (manual: "Audio only streams are always recorded to MP4").
 */
export const recordContainerFor = (
  formats: RecordFormats,
  h264ToTs: boolean,
  videoCodec: VideoCodec | undefined
): RecordContainer => {
  if (videoCodec === undefined) return "mp4"
  if (videoCodec === "VP8") return formats.vp8
  return h264ToTs ? "ts" : formats.h264
}
