/**
 * Key frame requests: spaced so a burst of losses sends one, a FIR only for the session's and the periodic
 * requests and only when negotiated, its sequence number advancing; and the FIR bytes (RFC 5104 4.3.1) as werift's
 * own RTCP parser reads them.
 */
import { assert, describe, it } from "@effect/vitest"
import { RtcpPacketConverter } from "werift"
import { serializeFullIntraRequest } from "../src/protocols/webrtc/full-intra-request.ts"
import { KeyframeRequests } from "../src/protocols/webrtc/keyframe-requests.ts"

const recording = (withFir: boolean) => {
  const sent: Array<string> = []
  const requests = new KeyframeRequests({
    sendPli: () => sent.push("PLI"),
    sendFir: withFir ? (seq) => sent.push(`FIR ${seq}`) : undefined
  }, 500)
  return { sent, requests }
}

describe("KeyframeRequests", () => {
  it("sends one PLI for a burst of losses, then again once the interval has passed", () => {
    const { sent, requests } = recording(true)
    assert.isTrue(requests.request("loss", 1000))
    for (const at of [1001, 1100, 1499]) assert.isFalse(requests.request("loss", at))
    assert.isTrue(requests.request("waiting", 1500))
    assert.deepStrictEqual(sent, ["PLI", "PLI"])
    assert.deepStrictEqual(requests.stats, { pli: 2, fir: 0, spaced: 3 })
  })

  it("adds a FIR with a new sequence number to the session's and the periodic requests when negotiated", () => {
    const { sent, requests } = recording(true)
    requests.request("session", 0)
    requests.request("periodic", 5000)
    assert.deepStrictEqual(sent, ["PLI", "FIR 1", "PLI", "FIR 2"])
  })

  it("sends only PLIs when the peer did not negotiate ccm fir", () => {
    const { sent, requests } = recording(false)
    requests.request("session", 0)
    requests.request("periodic", 5000)
    assert.deepStrictEqual(sent, ["PLI", "PLI"])
  })
})

describe("serializeFullIntraRequest", () => {
  it("writes the RFC 5104 packet byte for byte, and werift parses it back as a FIR for the media SSRC", () => {
    const bytes = serializeFullIntraRequest(0x01020304, 0xaabbccdd, 7)
    assert.strictEqual(bytes.toString("hex"), "84ce0004" + "01020304" + "00000000" + "aabbccdd" + "07000000")
    const [packet] = RtcpPacketConverter.deSerialize(bytes)
    assert.strictEqual(packet?.type, 206)
    if (packet?.type !== 206) return
    assert.strictEqual(packet.feedback.count, 4)
    // werift's FullIntraRequest, which it does not export as a type.
    const fir = packet.feedback as unknown as {
      readonly senderSsrc: number
      readonly fir: ReadonlyArray<{ readonly ssrc: number; readonly sequenceNumber: number }>
    }
    assert.strictEqual(fir.senderSsrc, 0x01020304)
    assert.deepStrictEqual(fir.fir, [{ ssrc: 0xaabbccdd, sequenceNumber: 7 }])
  })
})
