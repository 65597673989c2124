/**
 * The incremental RTSP reader on real GStreamer answers (RFC 2326 7, 10.12): responses with bodies, interleaved
 * frames between them, any split of the bytes into chunks, and streams it must refuse.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { headerValue, serializeInterleaved, serializeResponse } from "../src/protocols/rtsp/rtsp-message.ts"
import { RtspReader, type RtspIncoming } from "../src/protocols/rtsp/rtsp-reader.ts"
import { type Capture, capturedBytes, readAll } from "./fixtures/rtsp/captured-session.ts"

const summary = (message: RtspIncoming): string => {
  switch (message._tag) {
    case "Response":
      const { status, headers, body } = message.response
      return `${status} CSeq ${headerValue(headers, "cseq")} body ${body.length}`
    case "Request":
      return `${message.method} ${message.uri}`
    case "Interleaved":
      return `$${message.channel} ${message.data.length} ${Buffer.from(message.data.subarray(0, 4)).toString("hex")}`
    case "Malformed":
      return `malformed: ${message.problem}`
  }
}

/** Feeds `bytes` cut at `cuts` and takes messages after each chunk, as the connection does. */
const readInChunks = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<string> => {
  const reader = new RtspReader()
  const out: Array<string> = []
  let from = 0
  for (const cut of [...cuts, bytes.length]) {
    reader.feed(bytes.subarray(from, cut))
    from = cut
    for (let message = reader.next(); message !== undefined; message = reader.next()) out.push(summary(message))
  }
  return out
}

describe("RtspReader", () => {
  it("reads GStreamer's DESCRIBE answer with its SDP body", () => {
    const [message] = readAll(capturedBytes("describe"))
    assert.strictEqual(message?._tag, "Response")
    if (message?._tag !== "Response") return
    assert.deepInclude(message.response, { status: 200, reason: "OK" })
    assert.strictEqual(headerValue(message.response.headers, "content-base"), "rtsp://127.0.0.1:18555/h264aac/")
    assert.strictEqual(message.response.body.length, 832)
    assert.isTrue(Buffer.from(message.response.body).toString().startsWith("v=0\r\no=- "))
  })

  it("reads two SETUP answers that arrive together", () => {
    const messages = readAll(capturedBytes("setup")).map(summary)
    assert.deepStrictEqual(messages, ["200 CSeq 3 body 0", "200 CSeq 4 body 0"])
  })

  it("separates the PLAY answer from the interleaved RTP and RTCP that follow it", () => {
    const messages = readAll(capturedBytes("play-interleaved"))
    assert.strictEqual(summary(messages[0]!), "200 CSeq 5 body 0")
    const frames = messages.slice(1)
    assert.isTrue(frames.every((m) => m._tag === "Interleaved"))
    // The first frame: `$`, channel 0, 14 bytes of RTP: version 2, payload type 96, sequence number 30846, the
    // seq that the RTP-Info of the PLAY answer announced.
    assert.strictEqual(summary(frames[0]!), "$0 14 8060787e")
    assert.strictEqual(0x787e, 30846)
    const channels = new Set(frames.map((m) => (m._tag === "Interleaved" ? m.channel : -1)))
    assert.deepStrictEqual([...channels].sort(), [0, 1, 2, 3])
    // The capture ends mid-frame: whatever is cut off stays buffered, nothing is invented.
    const total = frames.reduce((sum, m) => sum + (m._tag === "Interleaved" ? 4 + m.data.length : 0), 0)
    assert.isBelow(total, capturedBytes("play-interleaved").length - 300)
  })

  it("yields the same messages however the bytes are split into chunks", () => {
    const captures: Array<Capture> = ["options", "describe", "play-interleaved"]
    const bytes = Buffer.concat(captures.map(capturedBytes))
    const whole = readInChunks(bytes, [])
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        assert.deepStrictEqual(readInChunks(bytes, [...cuts].sort((a, b) => a - b)), whole)
      }),
      { numRuns: 60 }
    )
  })

  it("keeps interleaved data handed out intact while more bytes arrive", () => {
    const packet = Uint8Array.from({ length: 100 }, (_, i) => i)
    const bytes = Buffer.concat([serializeInterleaved(0, packet), serializeInterleaved(1, packet.map((b) => 255 - b))])
    const reader = new RtspReader()
    reader.feed(bytes.subarray(0, 150))
    const first = reader.next()
    assert.strictEqual(first?._tag, "Interleaved")
    reader.feed(bytes.subarray(150))
    reader.next()
    if (first?._tag === "Interleaved") assert.deepStrictEqual(first.data, packet)
  })

  it("reads a request from the server, folded headers and a stray line break between messages", () => {
    const bytes = Buffer.from(
      "\r\nOPTIONS * RTSP/1.0\r\nCSeq: 7\r\nX-Long: one\r\n two\r\n\r\n" +
        "RTSP/1.0 454 Session Not Found\r\nCSeq: 8\r\n\r\n"
    )
    const messages = readAll(bytes)
    assert.deepStrictEqual(messages.map(summary), ["OPTIONS *", "454 CSeq 8 body 0"])
    if (messages[0]?._tag === "Request") assert.strictEqual(headerValue(messages[0].headers, "x-long"), "one two")
  })

  it("serializes responses that it reads back", () => {
    const body = new TextEncoder().encode("v=0\r\n")
    const bytes = serializeResponse({ status: 200, reason: "OK", headers: [["CSeq", "2"]], body })
    assert.deepStrictEqual(readAll(bytes).map(summary), ["200 CSeq 2 body 5"])
  })

  const refusals: ReadonlyArray<readonly [string, Uint8Array, string]> = [
    ["binary junk between messages", Uint8Array.of(0x80, 0x60, 0, 1, 2, 3), "unexpected byte 0x80"],
    ["a start line that is neither", Buffer.from("HTTP/1.1 200 OK\r\n\r\n"), "unexpected start line"],
    ["a bad Content-Length", Buffer.from("RTSP/1.0 200 OK\r\nContent-Length: -4\r\n\r\n"), "bad Content-Length"],
    ["a body too long", Buffer.from("RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n"), "too long"],
    ["headers that never end", Buffer.from("RTSP/1.0 200 OK\r\n" + "X: y\r\n".repeat(4000)), "no end of headers"]
  ]
  for (const [name, bytes, problem] of refusals) {
    it(`refuses ${name}, and stays refused`, () => {
      const reader = new RtspReader()
      reader.feed(bytes)
      const message = reader.next()
      assert.strictEqual(message?._tag, "Malformed")
      if (message?._tag === "Malformed") assert.include(message.problem, problem)
      reader.feed(capturedBytes("options"))
      assert.strictEqual(reader.next()?._tag, "Malformed")
    })
  }
})
