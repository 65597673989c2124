/**
 * The VP8 frame header (RFC 6386 9.1): key frames and their size, read from libvpx output and from crafted bytes.
 */
import { assert, describe, it } from "@effect/vitest"
import { parseVp8FrameHeader } from "../src/protocols/webrtc/vp8-frame-header.ts"
import { encodeVideo } from "./fixtures/webrtc/test-media.ts"

describe("parseVp8FrameHeader", () => {
  it("finds libvpx's key frames and their size, and marks the rest as inter frames", () => {
    const media = encodeVideo("VP8", { seconds: 1, fps: 20, gop: 10, size: "176x144" })
    const headers = media.frames.map((frame) => parseVp8FrameHeader(frame.data))
    assert.deepStrictEqual(
      headers.flatMap((h, i) => (h?.keyframe ? [i] : [])),
      media.frames.flatMap((f, i) => (f.keyframe ? [i] : []))
    )
    assert.deepStrictEqual(headers[0], { keyframe: true, width: 176, height: 144 })
    assert.deepStrictEqual(headers[1], { keyframe: false })
  })

  const cases: ReadonlyArray<readonly [string, ReadonlyArray<number>, ReturnType<typeof parseVp8FrameHeader>]> = [
    // Frame tag 0x50 0x02 0x00: key frame, show_frame; start code; 640 (scale 0) x 480 (scale 1).
    [
      "a key frame",
      [0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x41],
      { keyframe: true, width: 640, height: 480 }
    ],
    ["an inter frame", [0x31, 0x01, 0x00], { keyframe: false }],
    ["a key frame without its start code", [0x50, 0x02, 0x00, 0x00, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01], undefined],
    ["a key frame of size 0", [0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x00, 0xe0, 0x01], undefined],
    ["a truncated key frame", [0x50, 0x02, 0x00, 0x9d, 0x01], undefined],
    ["two bytes", [0x50, 0x02], undefined]
  ]
  for (const [name, bytes, expected] of cases) {
    it(`reads ${name}`, () => {
      assert.deepStrictEqual(parseVp8FrameHeader(Uint8Array.from(bytes)), expected)
    })
  }
})
