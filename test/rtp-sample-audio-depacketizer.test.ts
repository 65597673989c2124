/**
 * Sample-based RTP payloads (RFC 3551 4.3): G.711 PCMA/PCMU (4.5.14) and G.722 (4.5.2) are one frame per packet,
 * copied, at the packet's timestamp; an empty payload counts as malformed.
 */
import { assert, describe, it } from "@effect/vitest"
import { parseRtpPacket, serializeRtpPacket } from "../src/protocols/rtp/rtp-packet.ts"
import { SampleAudioDepacketizer } from "../src/protocols/rtp/sample-audio-depacketizer.ts"

/** 20 ms packets as cameras send them: 160 bytes for each codec, 160 ticks of the 8000 Hz RTP clock apart. */
const CASES = [
  { codec: "PCMA", payloadType: 8, silence: 0xd5 },
  { codec: "PCMU", payloadType: 0, silence: 0xff },
  { codec: "G722", payloadType: 9, silence: 0xfa }
] as const

describe("SampleAudioDepacketizer", () => {
  for (const { codec, payloadType, silence } of CASES) {
    it(`passes each ${codec} packet's bytes on as one frame at its timestamp`, () => {
      const depacketizer = new SampleAudioDepacketizer()
      const payloads = [0, 1, 2].map((n) => Uint8Array.from({ length: 160 }, (_, i) => silence ^ (i + n)))
      const frames = payloads.flatMap((payload, n) => {
        const bytes = serializeRtpPacket({ payloadType, sequenceNumber: 7 + n, timestamp: 8000 + 160 * n, payload })
        const out = depacketizer.push(parseRtpPacket(bytes)!)
        bytes.fill(0) // the frames are copies: the packet's buffer may be reused
        return out
      })
      assert.deepStrictEqual(frames, payloads.map((data, n) => ({ timestamp: 8000 + 160 * n, keyframe: true, data })))
      assert.strictEqual(depacketizer.malformed, 0)
    })
  }

  it("counts an empty payload as malformed", () => {
    const depacketizer = new SampleAudioDepacketizer()
    const bytes = serializeRtpPacket({ payloadType: 9, sequenceNumber: 1, timestamp: 0, payload: new Uint8Array(0) })
    assert.deepStrictEqual(depacketizer.push(parseRtpPacket(bytes)!), [])
    assert.strictEqual(depacketizer.malformed, 1)
    assert.strictEqual(depacketizer.lastProblem, "empty payload")
  })
})
