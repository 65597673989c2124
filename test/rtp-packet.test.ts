/**
 * RTP header parsing (RFC 3550 5.1, 5.3.1): a captured GStreamer packet, hand-built packets with CSRCs, a header
 * extension and padding, malformed packets, and a round trip property.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { parseRtpPacket, rtpProblem, serializeRtpPacket } from "../src/protocols/rtp/rtp-packet.ts"
import { capturedChannel } from "./fixtures/rtsp/captured-session.ts"

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s/g, ""), "hex"))

describe("parseRtpPacket", () => {
  it("reads GStreamer's first H.264 packet: an access unit delimiter", () => {
    const packet = parseRtpPacket(capturedChannel(0)[0]!)!
    assert.deepInclude(packet, { marker: false, payloadType: 96, sequenceNumber: 30846, ssrc: 0xbbf3eb3d })
    assert.strictEqual(packet.timestamp, 0x46678179)
    assert.deepStrictEqual([...packet.payload], [0x09, 0x10])
    assert.deepStrictEqual(packet.csrcs, [])
    assert.isUndefined(packet.extension)
  })

  it("reads CSRCs, a header extension and padding", () => {
    // V=2 P=1 X=1 CC=2 | M=1 PT=97 | seq 0xfffe | ts 0xfffffff0 | ssrc | 2 CSRCs | ext 0xbede, 1 word | payload | pad 3
    const bytes = hex(`
      b2 e1 fffe fffffff0 01020304
      0000000a 0000000b
      bede 0001 11223344
      aabbcc 00 00 03`)
    const packet = parseRtpPacket(bytes)!
    assert.deepInclude(packet, { marker: true, payloadType: 97, sequenceNumber: 0xfffe, timestamp: 0xfffffff0 })
    assert.deepStrictEqual(packet.csrcs, [10, 11])
    assert.strictEqual(packet.extension?.profile, 0xbede)
    assert.deepStrictEqual([...packet.extension!.data], [0x11, 0x22, 0x33, 0x44])
    assert.deepStrictEqual([...packet.payload], [0xaa, 0xbb, 0xcc])
  })

  const malformed: ReadonlyArray<readonly [string, string, string]> = [
    ["shorter than the header", "80600001", "shorter than the 12-byte RTP header"],
    ["version 1", "40600001 00000000 00000000", "RTP version 1"],
    ["a CSRC list past the end", "83600001 00000000 00000000 00000001", "CSRC list runs past the packet"],
    ["an extension past the end", "90600001 00000000 00000000 bede0002 00000000", "header extension runs past"],
    ["zero padding", "a0600001 00000000 00000000 aa00", "padding of 0 bytes"],
    ["padding longer than the packet", "a0600001 00000000 00000000 aa20", "padding of 32 bytes"]
  ]
  for (const [name, bytes, problem] of malformed) {
    it(`refuses ${name}`, () => {
      assert.isUndefined(parseRtpPacket(hex(bytes)))
      assert.include(rtpProblem(hex(bytes)), problem)
    })
  }

  it("round-trips every header it serializes", () => {
    fc.assert(fc.property(
      fc.record({
        marker: fc.boolean(),
        payloadType: fc.integer({ min: 0, max: 127 }),
        sequenceNumber: fc.integer({ min: 0, max: 0xffff }),
        timestamp: fc.integer({ min: 0, max: 0xffffffff }),
        ssrc: fc.integer({ min: 0, max: 0xffffffff }),
        csrcs: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15 }),
        payload: fc.uint8Array({ maxLength: 64 })
      }),
      (fields) => {
        const parsed = parseRtpPacket(serializeRtpPacket(fields))
        assert.deepInclude(parsed, { ...fields, payload: parsed!.payload })
        assert.deepStrictEqual([...parsed!.payload], [...fields.payload])
      }
    ))
  })
})
