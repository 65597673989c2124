/** G.711 RTP payloads (RFC 3551 4.5.14): one frame per packet, copied, an empty payload counted as malformed. */
import { assert, describe, it } from "@effect/vitest"
import { G711Depacketizer } from "../src/protocols/rtp/g711-depacketizer.ts"
import { parseRtpPacket, serializeRtpPacket } from "../src/protocols/rtp/rtp-packet.ts"

describe("G711Depacketizer", () => {
  it("passes each packet's samples on as one frame at its timestamp", () => {
    const samples = Uint8Array.from({ length: 160 }, (_, i) => 0xd5 ^ i)
    const bytes = serializeRtpPacket({ payloadType: 8, sequenceNumber: 1, timestamp: 8000, payload: samples })
    const [frame] = new G711Depacketizer().push(parseRtpPacket(bytes)!)
    assert.deepStrictEqual(frame, { timestamp: 8000, keyframe: true, data: samples })
    bytes.fill(0)
    assert.deepStrictEqual(frame!.data, samples, "a copy: the packet's buffer may be reused")
  })

  it("counts an empty payload as malformed", () => {
    const depacketizer = new G711Depacketizer()
    const bytes = serializeRtpPacket({ payloadType: 0, sequenceNumber: 1, timestamp: 0, payload: new Uint8Array(0) })
    assert.deepStrictEqual(depacketizer.push(parseRtpPacket(bytes)!), [])
    assert.strictEqual(depacketizer.malformed, 1)
  })
})
