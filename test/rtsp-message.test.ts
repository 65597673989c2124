/** RTSP request serialization (RFC 2326 6): the request line, headers in order, Content-Length, no smuggled lines. */
import { assert, describe, it } from "@effect/vitest"
import { headerValue, headerValues, serializeRequest } from "../src/protocols/rtsp/rtsp-message.ts"

describe("serializeRequest", () => {
  it("writes the request line, the headers in order and the empty line", () => {
    const bytes = serializeRequest({
      method: "SETUP",
      uri: "rtsp://127.0.0.1:8554/h264aac/stream=0",
      headers: [["CSeq", "3"], ["Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"]]
    })
    assert.strictEqual(
      Buffer.from(bytes).toString(),
      "SETUP rtsp://127.0.0.1:8554/h264aac/stream=0 RTSP/1.0\r\nCSeq: 3\r\n" +
        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
    )
  })

  it("adds Content-Length for a body", () => {
    const bytes = serializeRequest({ method: "SET_PARAMETER", uri: "*", headers: [], body: Buffer.from("a: b\r\n") })
    assert.strictEqual(Buffer.from(bytes).toString(), "SET_PARAMETER * RTSP/1.0\r\nContent-Length: 6\r\n\r\na: b\r\n")
  })

  it("removes line breaks that would smuggle in headers", () => {
    const headers = [["Session", "a\r\nX: y"]] as const
    const bytes = serializeRequest({ method: "OPTIONS", uri: "rtsp://h/x\r\nEvil: 1", headers })
    assert.strictEqual(Buffer.from(bytes).toString(), "OPTIONS rtsp://h/xEvil: 1 RTSP/1.0\r\nSession: aX: y\r\n\r\n")
  })
})

describe("headerValue", () => {
  it("looks headers up case-insensitively, first or all", () => {
    const headers = [["WWW-Authenticate", "Basic"], ["www-authenticate", "Digest"]] as const
    assert.strictEqual(headerValue(headers, "Www-Authenticate"), "Basic")
    assert.deepStrictEqual(headerValues(headers, "WWW-AUTHENTICATE"), ["Basic", "Digest"])
    assert.isUndefined(headerValue(headers, "CSeq"))
  })
})
