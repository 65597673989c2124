/**
 * The names drawn in the mix: shown or not, %-escapes decoded on request, the room taken out of RoomApi names, and
 * the track-name convention's round trip (the writer's formatTrackName against the reader's parseTrackName).
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { DEJAVU_SANS, findLabelFont, type LabelSettings, streamLabel } from "../src/mixer/stream-label.ts"
import { formatTrackName, parseTrackName } from "../src/mixer/track-name.ts"

const shown: LabelSettings = {
  mixerDisplayStreamName: true,
  mixerTextDisplayRoom: true,
  labelReplaceRegex: undefined,
  labelReplaceWith: "",
  mixerDecodeStreamName: false
}

describe("streamLabel", () => {
  it.each([
    [{}, "room-1882a6-bob-037c", "room-1882a6-bob-037c"],
    [{ mixerDisplayStreamName: false }, "room-1882a6-bob-037c", undefined],
    [{ mixerTextDisplayRoom: false }, "room-1882a6-bob-037c", "bob"],
    [{ mixerTextDisplayRoom: false }, "room-1882a6-mary-ann-037c", "mary-ann"],
    [{ mixerTextDisplayRoom: false, labelReplaceRegex: "\\w+-\\w+-([^-]+)-\\w+" }, "room-1882a6-bob-037c", "bob"],
    [{ mixerTextDisplayRoom: false, labelReplaceRegex: "^room-\\w+-" }, "room-1882a6-bob-037c", "bob-037c"],
    [{ mixerTextDisplayRoom: false, labelReplaceRegex: "-\\w+$", labelReplaceWith: "!" }, "bob-037c", "bob!"],
    [{ mixerTextDisplayRoom: false }, "plain", "plain"],
    [{ mixerDecodeStreamName: true }, "%D0%B1%D0%BE%D0%B1%20x", "боб x"],
    [{ mixerDecodeStreamName: true }, "100%", "100%"],
    [{ mixerDecodeStreamName: false }, "bob%20x", "bob%20x"],
    [{ mixerDecodeStreamName: true, mixerTextDisplayRoom: false }, "room-1-b%C3%B8b-2", "bøb"]
  ])("%o: %s -> %s", (settings, name, expected) => {
    assert.strictEqual(streamLabel(name, { ...shown, ...settings }), expected)
  })
})

describe("track names", () => {
  it("round-trip any stream name and mediaSessionId without ':'", () => {
    fc.assert(fc.property(
      fc.stringMatching(/^[\w-]{1,40}$/),
      fc.string({ minLength: 0, maxLength: 40, unit: "grapheme" }),
      (mediaSessionId, streamName) => {
        const name = formatTrackName({ mediaSessionId, streamName })
        assert.match(name, /^capstan:[^:]+:[^:]*$/)
        assert.deepStrictEqual(parseTrackName(name), { mediaSessionId, streamName })
      }
    ))
  })

  it.each([undefined, "", "SoundHandler", "capstan:", "capstan::x", "VideoHandler:capstan:a:b"])(
    "reads %o as not written by the multi-recorder",
    (name) => assert.isUndefined(parseTrackName(name))
  )
})

describe("label font", () => {
  it("is the configured file, else DejaVu Sans when installed, else fontconfig's Sans", () => {
    assert.deepStrictEqual(findLabelFont("/x/font.ttf", () => false), { _tag: "File", path: "/x/font.ttf" })
    assert.deepStrictEqual(findLabelFont(undefined, (p) => p === DEJAVU_SANS), { _tag: "File", path: DEJAVU_SANS })
    assert.deepStrictEqual(findLabelFont(undefined, () => false), { _tag: "Family", family: "Sans" })
  })
})
