import { assert, describe, it } from "@effect/vitest"
import { HANDSHAKE_SIZE, ServerHandshake } from "../src/protocols/rtmp/handshake.ts"
import { RtmpProtocolError } from "../src/protocols/rtmp/protocol-error.ts"

const c1 = Buffer.from(Array.from({ length: HANDSHAKE_SIZE }, (_, i) => (i * 7) & 0xff))

describe("ServerHandshake (RTMP 1.0, 5.2)", () => {
  it("answers C0+C1 with S0+S1+S2 (S2 echoing C1) and hands on what follows C2", () => {
    const handshake = new ServerHandshake()
    const c0c1 = Buffer.concat([Buffer.from([3]), c1])
    // Fed in uneven pieces, as TCP may deliver them.
    assert.isUndefined(handshake.feed(c0c1.subarray(0, 1)).reply)
    assert.isUndefined(handshake.feed(c0c1.subarray(1, 1000)).reply)
    const step = handshake.feed(c0c1.subarray(1000))
    assert.isFalse(step.done)
    const reply = step.reply!
    assert.strictEqual(reply.length, 1 + 2 * HANDSHAKE_SIZE)
    assert.strictEqual(reply[0], 3)
    assert.deepStrictEqual(reply.subarray(1, 9), Buffer.alloc(8)) // S1: time 0, zero 0
    const s2 = reply.subarray(1 + HANDSHAKE_SIZE)
    assert.deepStrictEqual(s2.subarray(0, 4), c1.subarray(0, 4))
    assert.deepStrictEqual(s2.subarray(8), c1.subarray(8))

    const c2 = reply.subarray(1, 1 + HANDSHAKE_SIZE)
    assert.isFalse(handshake.feed(c2.subarray(0, 100)).done)
    const last = handshake.feed(Buffer.concat([c2.subarray(100), Buffer.from("chunk")]))
    assert.isTrue(last.done)
    assert.strictEqual(last.rest?.toString(), "chunk")
    assert.isTrue(handshake.done)
  })

  it.each([
    ["garbage (an HTTP request)", "GET / HTTP/1.1", "bad handshake: unsupported RTMP version byte 71 (expected 3)"],
    ["RTMPE (version 6)", "\x06", "bad handshake: unsupported RTMP version byte 6 (expected 3)"]
  ])("refuses %s at the first byte", (_name, input, reason) => {
    assert.throws(() => new ServerHandshake().feed(Buffer.from(input, "latin1")), RtmpProtocolError, reason)
  })
})
