/**
 * Round trips of the shared codec helpers: Annex-B to AVCC, avcC from SPS/PPS (read back with the same parser the
 * RTMP ingest uses for FLV sequence headers), and ADTS headers to AudioSpecificConfigs.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { parseAudioSpecificConfig } from "../src/media/aac-config.ts"
import { adtsAudioSpecificConfig, adtsHeader, parseAdtsHeader, splitAdts } from "../src/media/aac-adts.ts"
import { makeAvcC, splitAnnexB, spsDimensions, toAvcc } from "../src/media/h264-annexb.ts"
import { parseAvcDecoderConfig } from "../src/media/h264-sps.ts"
import { frameProblem } from "../src/pipelines/frame-check.ts"

// A real 640x360 High-profile SPS and its PPS from libx264.
const sps = Uint8Array.from(Buffer.from("6764001eacd940a02ff9610000030001000003003c0f162d96", "hex"))
const pps = Uint8Array.from(Buffer.from("68ebe3cb22c0", "hex"))

const nalArb = fc.tuple(fc.integer({ min: 1, max: 23 }), fc.uint8Array({ minLength: 1, maxLength: 30 }))
  // Real NAL payloads never hold a start code (emulation prevention); keep zero runs short like an encoder does.
  .map(([type, body]) => Uint8Array.from([(3 << 5) | type, ...body.map((byte) => (byte === 0 ? 1 : byte))]))

describe("Annex-B and AVCC", () => {
  it("splits 3- and 4-byte start codes and packs the NALs as a well-formed AVCC access unit", () => {
    fc.assert(fc.property(fc.array(fc.tuple(nalArb, fc.boolean()), { minLength: 1, maxLength: 6 }), (items) => {
      const stream = Buffer.concat(items.map(([nal, long]) => Buffer.concat([Buffer.from(long ? [0, 0, 0, 1] : [0, 0, 1]), nal])))
      const nals = splitAnnexB(stream)
      assert.deepStrictEqual(nals.map((nal) => Buffer.from(nal).toString("hex")), items.map(([nal]) => Buffer.from(nal).toString("hex")))
      assert.isUndefined(frameProblem("H264", { kind: "video", dts: 0, pts: 0, keyframe: true, data: toAvcc(nals) }))
    }))
  })

  it("builds an avcC that parses back to the same SPS and PPS with 4-byte lengths", () => {
    const parsed = parseAvcDecoderConfig(makeAvcC(sps, pps))
    assert.isDefined(parsed)
    assert.strictEqual(parsed!.nalLengthSize, 4)
    assert.deepStrictEqual(Buffer.from(parsed!.sps[0]!), Buffer.from(sps))
    assert.deepStrictEqual(Buffer.from(parsed!.pps[0]!), Buffer.from(pps))
    assert.deepStrictEqual(spsDimensions(sps), { width: 640, height: 360 })
  })
})

describe("ADTS", () => {
  it.each([
    { rate: 44100, index: 4, channels: 2 },
    { rate: 48000, index: 3, channels: 1 },
    { rate: 8000, index: 11, channels: 2 }
  ])("round trips a $rate Hz, $channels channel header to its AudioSpecificConfig", ({ rate, index, channels }) => {
    const payload = new Uint8Array(100).fill(7)
    const frame = Buffer.concat([adtsHeader({ audioObjectType: 2, samplingIndex: index, channels }, payload.length), payload])
    const header = parseAdtsHeader(frame)!
    assert.deepInclude(header, { sampleRate: rate, channels, frameLength: 107, headerLength: 7 })
    const asc = parseAudioSpecificConfig(adtsAudioSpecificConfig(header))!
    assert.deepInclude(asc, { audioObjectType: 2, sampleRate: rate, channels })
    const split = splitAdts(Buffer.concat([frame, frame, frame.subarray(0, 50)]))
    assert.strictEqual(split.frames.length, 2, "a truncated trailing frame is left out")
    assert.deepStrictEqual(Buffer.from(split.frames[0]!), Buffer.from(payload))
  })
})
