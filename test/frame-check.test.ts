import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import type { Frame } from "../src/media/frame.ts"
import { frameProblem } from "../src/pipelines/frame-check.ts"

const frame = (bytes: ReadonlyArray<number>): Frame => ({
  kind: "video",
  dts: 0,
  pts: 0,
  keyframe: true,
  data: Uint8Array.from(bytes)
})

const avcc = (nals: ReadonlyArray<ReadonlyArray<number>>): Array<number> =>
  nals.flatMap((nal) => [(nal.length >>> 24) & 255, (nal.length >>> 16) & 255, (nal.length >>> 8) & 255, nal.length & 255, ...nal])

describe("frameProblem", () => {
  it.each([
    { name: "one IDR NAL", bytes: avcc([[0x65, 1, 2, 3]]), problem: undefined },
    { name: "SPS, PPS and IDR", bytes: avcc([[0x67, 1], [0x68, 2], [0x65, 3]]), problem: undefined },
    { name: "empty", bytes: [], problem: /empty/ },
    { name: "length past the end", bytes: [0, 0, 0, 9, 0x65, 1], problem: /does not fit/ },
    { name: "zero length", bytes: [0, 0, 0, 0, 0x65], problem: /does not fit/ },
    { name: "trailing bytes", bytes: [...avcc([[0x65, 1]]), 0, 0], problem: /truncated/ },
    { name: "forbidden bit", bytes: avcc([[0xe5, 1]]), problem: /forbidden_zero_bit/ },
    { name: "type 0", bytes: avcc([[0x60, 1]]), problem: /type 0/ },
    { name: "Annex-B start code", bytes: [0, 0, 0, 1, 0x65, 1, 2], problem: /truncated/ }
  ])("H.264 $name", ({ bytes, problem }) => {
    const found = frameProblem("H264", frame(bytes))
    if (problem === undefined) assert.isUndefined(found)
    else assert.match(found ?? "", problem)
  })

  it("accepts every well-formed AVCC access unit", () => {
    const nal = fc.tuple(fc.integer({ min: 1, max: 31 }), fc.uint8Array({ maxLength: 40 }))
      .map(([type, body]) => [(3 << 5) | type, ...body])
    fc.assert(fc.property(fc.array(nal, { minLength: 1, maxLength: 8 }), (nals) => {
      assert.isUndefined(frameProblem("H264", frame(avcc(nals))))
    }))
  })

  it("leaves other codecs' payloads alone", () => {
    assert.isUndefined(frameProblem("AAC", frame([0xff, 0x00])))
  })
})
