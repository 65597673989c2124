/** The in-flight patch of mediabunny's provisional Segment header; the end-to-end effect is in matroska-writer. */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { LiveSegmentHeader } from "../src/containers/matroska/live-segment-header.ts"

const EBML_HEADER = new Uint8Array(40)
/** Segment (size 77 in 6 bytes) | SeekHead (size 5 in 4 bytes, 5 bytes of entries) | Info ID ... */
const segmentChunk = (): Uint8Array =>
  Uint8Array.from([
    0x18, 0x53, 0x80, 0x67, 0x04, 0x00, 0x00, 0x00, 0x00, 0x4d,
    0x11, 0x4d, 0x9b, 0x74, 0x10, 0x00, 0x00, 0x05, 0x4d, 0xbb, 0x83, 0x53, 0xab,
    0x15, 0x49, 0xa9, 0x66, 0x42, 0x00
  ])

const header = (): LiveSegmentHeader => {
  const live = new LiveSegmentHeader()
  live.onEbmlHeader(EBML_HEADER, 0)
  return live
}

describe("LiveSegmentHeader", () => {
  it("turns the Segment size into 'unknown' and the SeekHead into a Void of the same length", () => {
    const chunk = segmentChunk()
    header().patch(chunk, EBML_HEADER.byteLength)
    assert.deepStrictEqual([...chunk.subarray(0, 10)], [0x18, 0x53, 0x80, 0x67, 0x07, 0xff, 0xff, 0xff, 0xff, 0xff])
    assert.deepStrictEqual([...chunk.subarray(10, 23)], [0xec, 0x10, 0x00, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0])
    assert.deepStrictEqual([...chunk.subarray(23)], [...segmentChunk().subarray(23)], "what follows is untouched")
  })

  it("leaves the final values alone once finalize begins", () => {
    const live = header()
    live.finishing()
    const chunk = segmentChunk()
    live.patch(chunk, EBML_HEADER.byteLength)
    assert.deepStrictEqual([...chunk], [...segmentChunk()])
  })

  it("never touches chunks that do not hold the Segment ID where the Segment starts", () => {
    const ID = [0x18, 0x53, 0x80, 0x67]
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 100 }), (bytes, position) => {
      const at = EBML_HEADER.byteLength - position
      fc.pre(!(at >= 0 && ID.every((b, i) => bytes[at + i] === b)))
      const copy = bytes.slice()
      header().patch(copy, position)
      assert.deepStrictEqual([...copy], [...bytes])
    }))
  })
})
