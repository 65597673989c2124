/**
 * The RTCP validity check (RFC 3550 A.2) used to count malformed compounds, on GStreamer's real sender reports
 * and on hand-made bad ones; and telling RTCP from RTP on a shared channel (RFC 5761 4).
 */
import { assert, describe, it } from "@effect/vitest"
import { looksLikeRtcp, rtcpProblem } from "../src/protocols/rtp/rtcp-packet.ts"
import { capturedChannel } from "./fixtures/rtsp/captured-session.ts"

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s/g, ""), "hex"))

describe("rtcpProblem", () => {
  it("accepts every RTCP compound GStreamer sent", () => {
    const compounds = [...capturedChannel(1), ...capturedChannel(3)]
    assert.isAbove(compounds.length, 0)
    for (const compound of compounds) {
      assert.isUndefined(rtcpProblem(compound))
      assert.isTrue(looksLikeRtcp(compound))
    }
  })

  it("accepts an empty receiver report", () => assert.isUndefined(rtcpProblem(hex("80c90001 01020304"))))

  const refused: ReadonlyArray<readonly [string, string, string]> = [
    ["a compound starting with SDES", "81ca0001 01020304", "not SR or RR"],
    ["a length past the end", "80c90002 01020304", "runs past the compound"],
    ["a second packet of version 1", "80c90001 01020304 41ca0000", "RTCP version 1"],
    ["padding on a packet that is not the last", "a0c90001 01020304 81ca0000", "padding on an RTCP packet"],
    ["three bytes", "80c900", "shorter than an RTCP header"]
  ]
  for (const [name, bytes, problem] of refused) {
    it(`refuses ${name}`, () => assert.include(rtcpProblem(hex(bytes)), problem))
  }

  it("tells RTP (payload type 96) from RTCP", () => {
    assert.isFalse(looksLikeRtcp(capturedChannel(0)[0]!))
  })
})
