/**
 * SDP parsing (RFC 4566) on GStreamer's real DESCRIBE answer and on camera-style descriptions: media, rtpmap,
 * fmtp and control, static payload types without rtpmap, and lines that do not parse.
 */
import { assert, describe, it } from "@effect/vitest"
import { parseFmtpParameters, parseSdp } from "../src/protocols/rtsp/sdp.ts"
import { gstreamerSdp } from "./fixtures/rtsp/captured-session.ts"

describe("parseSdp", () => {
  it("reads GStreamer's DESCRIBE answer", () => {
    const sdp = parseSdp(gstreamerSdp())
    assert.strictEqual(sdp.name, "Session streamed with GStreamer")
    assert.strictEqual(sdp.control, "*")
    const [video, audio] = sdp.media
    assert.deepInclude(video, { type: "video", port: 0, protocol: "RTP/AVP", control: "stream=0" })
    assert.deepStrictEqual(video!.payloadTypes, [96])
    assert.deepStrictEqual(video!.rtpmap.get(96), { encoding: "H264", clockRate: 90000, channels: undefined })
    assert.deepStrictEqual(Object.fromEntries(video!.fmtp.get(96)!), {
      "packetization-mode": "1",
      "sprop-parameter-sets": "Z0LADdoFB+wFqDAwNSgAAAMACAAAAwGUeKFV,aM48gA==",
      "profile-level-id": "42c00d",
      "level-asymmetry-allowed": "1"
    })
    assert.deepInclude(audio, { type: "audio", control: "stream=1" })
    assert.deepStrictEqual(audio!.rtpmap.get(97), { encoding: "MPEG4-GENERIC", clockRate: 44100, channels: 1 })
    assert.deepStrictEqual(Object.fromEntries(audio!.fmtp.get(97)!), {
      streamtype: "5",
      "profile-level-id": "2",
      mode: "AAC-hbr",
      config: "120856e500",
      sizelength: "13",
      indexlength: "3",
      indexdeltalength: "3"
    })
  })

  it("reads a camera's description: absolute controls, a static payload type, several formats", () => {
    const sdp = parseSdp([
      "v=0",
      "o=- 1 1 IN IP4 192.0.2.10",
      "s=Media Presentation",
      "m=video 0 RTP/AVP 96",
      "a=rtpmap:96 H264/90000",
      "a=control:rtsp://192.0.2.10:554/Streaming/Channels/101/trackID=1?transportmode=unicast",
      "a=fmtp:96 profile-level-id=420029; packetization-mode=1; " +
      "sprop-parameter-sets=Z00AKp2oHgCJ+WEAAAMAAQAAAwAyhA==,aO48gA==",
      "m=audio 0 RTP/AVP 8 0 9",
      "a=control:trackID=2",
      "m=application 0 RTP/AVP 107",
      "a=rtpmap:107 vnd.onvif.metadata/90000",
      "garbage line",
      "a=fmtp:oops"
    ].join("\n"))
    assert.strictEqual(sdp.control, undefined)
    assert.deepStrictEqual(sdp.media.map((m) => m.type), ["video", "audio", "application"])
    assert.strictEqual(sdp.media[0]!.fmtp.get(96)!.get("packetization-mode"), "1")
    assert.deepStrictEqual(sdp.media[1]!.payloadTypes, [8, 0, 9])
    assert.deepStrictEqual(sdp.media[1]!.rtpmap.get(8), { encoding: "PCMA", clockRate: 8000, channels: 1 })
    assert.deepStrictEqual(sdp.media[1]!.rtpmap.get(0), { encoding: "PCMU", clockRate: 8000, channels: 1 })
    // RFC 3551 4.5.2: G.722's RTP clock is 8000 Hz although it samples at 16 kHz.
    assert.deepStrictEqual(sdp.media[1]!.rtpmap.get(9), { encoding: "G722", clockRate: 8000, channels: 1 })
    assert.strictEqual(sdp.media[2]!.rtpmap.get(107)?.encoding, "vnd.onvif.metadata")
  })

  it("reads fmtp parameters case-insensitively, keeping '=' inside values", () => {
    assert.deepStrictEqual(Object.fromEntries(parseFmtpParameters(" SizeLength=13 ;Config=abc=;flag")), {
      sizelength: "13",
      config: "abc=",
      flag: ""
    })
  })

  it("an empty or foreign text has no media", () => {
    assert.deepStrictEqual(parseSdp("").media, [])
    assert.deepStrictEqual(parseSdp("<html>not found</html>").media, [])
  })
})
