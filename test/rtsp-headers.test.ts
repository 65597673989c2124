/**
 * Structured RTSP headers (RFC 2326 12): Transport as GStreamer answers it for TCP and UDP, Session with and without
 * timeout, RTP-Info of a PLAY answer, Public of an OPTIONS answer.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  parsePublic,
  parseRtpInfo,
  parseSession,
  parseTransport,
  tcpTransport,
  udpTransport
} from "../src/protocols/rtsp/rtsp-headers.ts"

describe("Transport", () => {
  it("writes the interleaved and the UDP requests", () => {
    assert.strictEqual(tcpTransport(2), "RTP/AVP/TCP;unicast;interleaved=2-3")
    assert.strictEqual(udpTransport(50000), "RTP/AVP;unicast;client_port=50000-50001")
  })

  it("reads GStreamer's answers", () => {
    assert.deepStrictEqual(parseTransport('RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=BBF3EB3D;mode="PLAY"'), {
      protocol: "RTP/AVP/TCP",
      interleaved: [0, 1],
      clientPort: undefined,
      serverPort: undefined,
      source: undefined,
      ssrc: 0xbbf3eb3d
    })
    assert.deepInclude(
      parseTransport("RTP/AVP;unicast;client_port=40000-40001;server_port=42126-42127;ssrc=AA371C89;mode=\"PLAY\""),
      { protocol: "RTP/AVP", clientPort: [40000, 40001], serverPort: [42126, 42127] }
    )
  })

  it("reads the first of several transports, a single port and a source", () => {
    const header = "rtp/avp;unicast;source=192.0.2.7;server_port=6970, RTP/AVP/TCP;interleaved=0-1"
    assert.deepInclude(parseTransport(header), {
      protocol: "RTP/AVP",
      serverPort: [6970, 6971],
      source: "192.0.2.7",
      interleaved: undefined
    })
  })
})

describe("Session", () => {
  it("reads the id and the timeout, 60 s when absent or nonsense", () => {
    assert.deepStrictEqual(parseSession("3JXI8qMbhLYE4LGN;timeout=7"), { id: "3JXI8qMbhLYE4LGN", timeoutSeconds: 7 })
    assert.deepStrictEqual(parseSession("12345678"), { id: "12345678", timeoutSeconds: 60 })
    assert.deepStrictEqual(parseSession("abc; timeout = 0"), { id: "abc", timeoutSeconds: 60 })
  })
})

describe("RTP-Info", () => {
  it("reads GStreamer's PLAY answer", () => {
    assert.deepStrictEqual(
      parseRtpInfo(
        "url=rtsp://127.0.0.1:18555/h264aac/stream=0;seq=30846;rtptime=1181186263, " +
          "url=rtsp://127.0.0.1:18555/h264aac/stream=1;seq=25023;rtptime=683567539"
      ),
      [
        { url: "rtsp://127.0.0.1:18555/h264aac/stream=0", seq: 30846, rtptime: 1181186263 },
        { url: "rtsp://127.0.0.1:18555/h264aac/stream=1", seq: 25023, rtptime: 683567539 }
      ]
    )
  })

  it("keeps commas inside URLs and tolerates missing fields", () => {
    assert.deepStrictEqual(parseRtpInfo("url=trackID=1,a;seq=5,url=trackID=2;rtptime=4294967295"), [
      { url: "trackID=1,a", seq: 5, rtptime: undefined },
      { url: "trackID=2", seq: undefined, rtptime: 4294967295 }
    ])
    assert.deepStrictEqual(parseRtpInfo(""), [])
  })
})

describe("Public", () => {
  it("reads the methods of GStreamer's OPTIONS answer", () => {
    const methods = parsePublic(
      "OPTIONS, DESCRIBE, ANNOUNCE, GET_PARAMETER, PAUSE, PLAY, RECORD, SETUP, SET_PARAMETER, TEARDOWN"
    )
    assert.isTrue(methods.has("GET_PARAMETER"))
    assert.strictEqual(methods.size, 10)
    assert.isFalse(parsePublic("options, describe").has("GET_PARAMETER"))
  })
})
