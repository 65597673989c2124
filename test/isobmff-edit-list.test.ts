import { assert, describe, it } from "@effect/vitest"
import { editedDuration, planEdits, type TrackTiming } from "../src/containers/isobmff/edit-list.ts"

const track = (timing: Partial<TrackTiming>): TrackTiming => ({
  presentationStart: 0,
  startOffset: undefined,
  firstCompositionOffset: 0,
  presentationEnd: 90000 * 4,
  mediaTimescale: 90000,
  ...timing
})

describe("planEdits", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<TrackTiming>, ReadonlyArray<ReadonlyArray<unknown>>]> = [
    ["video and audio starting together", [track({}), track({ mediaTimescale: 44100, presentationEnd: 44100 * 4 })], [
      [{ kind: "media", mediaTime: 0, duration: 4000 }],
      [{ kind: "media", mediaTime: 0, duration: 4000 }]
    ]],
    ["B-frames: presentation starts at the first composition offset", [
      track({ firstCompositionOffset: 6000, presentationEnd: 366000 })
    ], [
      [{ kind: "media", mediaTime: 6000, duration: 4000 }]
    ]],
    ["audio 23 ms after video on the shared clock gets an empty edit", [
      track({ presentationStart: 10 }),
      track({ presentationStart: 10.023, mediaTimescale: 48000, presentationEnd: 48000 })
    ], [
      [{ kind: "media", mediaTime: 0, duration: 4000 }],
      [{ kind: "empty", duration: 23 }, { kind: "media", mediaTime: 0, duration: 1000 }]
    ]],
    ["a track joining late with an explicit start offset", [
      track({}),
      track({ startOffset: 1.5, presentationStart: 0 })
    ], [
      [{ kind: "media", mediaTime: 0, duration: 4000 }],
      [{ kind: "empty", duration: 1500 }, { kind: "media", mediaTime: 0, duration: 4000 }]
    ]],
    ["media durations round up so the last sample is never cut", [
      track({ mediaTimescale: 44100, presentationEnd: 177152 })
    ], [
      [{ kind: "media", mediaTime: 0, duration: 4018 }]
    ]],
    ["a negative first composition offset clamps to media time 0", [track({ firstCompositionOffset: -3000 })], [
      [{ kind: "media", mediaTime: 0, duration: 4000 }]
    ]]
  ]
  for (const [name, timings, expected] of cases) {
    it(name, () => assert.deepStrictEqual(planEdits(timings, 1000), expected))
  }

  it("a track's movie duration is the sum of its edits", () => {
    const edits = [{ kind: "empty", duration: 1500 }, { kind: "media", mediaTime: 0, duration: 2500 }] as const
    assert.strictEqual(editedDuration(edits), 4000)
  })
})
