/**
 * What a pull takes from an SDP: the first H.264 video and the first AAC/PCMA/PCMU/G.722 audio, with their control URLs
 * resolved, and a reason for everything it leaves out.
 */
import { assert, describe, it } from "@effect/vitest"
import { chooseMedia } from "../src/protocols/rtsp/pull-media.ts"
import { parseSdp } from "../src/protocols/rtsp/sdp.ts"
import { gstreamerSdp } from "./fixtures/rtsp/captured-session.ts"

const sdp = (...lines: Array<string>) => parseSdp(["v=0", "s=-", ...lines].join("\r\n"))

describe("chooseMedia", () => {
  it("takes H.264 with its sprop-parameter-sets and AAC-hbr with its config from GStreamer's SDP", () => {
    const { media, skipped } = chooseMedia(parseSdp(gstreamerSdp()), "rtsp://127.0.0.1:18555/h264aac/")
    assert.deepStrictEqual(skipped, [])
    const [video, audio] = media
    assert.deepInclude(video, { kind: "video", codec: "H264", payloadType: 96, clockRate: 90000 })
    assert.strictEqual(video!.control, "rtsp://127.0.0.1:18555/h264aac/stream=0")
    if (video?.kind === "video") assert.deepStrictEqual(video.parameterSets.map((nal) => nal[0]! & 0x1f), [7, 8])
    assert.deepInclude(audio, { kind: "audio", codec: "AAC", payloadType: 97, clockRate: 44100, sampleRate: 44100 })
    assert.strictEqual(audio?.kind === "audio" && audio.channels, 1)
    if (audio?.kind === "audio") {
      assert.deepStrictEqual([...audio.config], [0x12, 0x08, 0x56, 0xe5, 0x00])
      assert.deepStrictEqual(audio.aac, { sizeLength: 13, indexLength: 3, indexDeltaLength: 3 })
    }
  })

  it("takes PCMA by its static payload type and resolves controls: relative, absolute, none", () => {
    const { media } = chooseMedia(
      sdp(
        "m=video 0 RTP/AVP 96",
        "a=rtpmap:96 H264/90000",
        "a=control:rtsp://cam/ch1/trackID=1",
        "m=audio 0 RTP/AVP 8"
      ),
      "rtsp://cam/ch1?tm=unicast"
    )
    assert.deepStrictEqual(media.map((m) => [m.codec, m.control]), [
      ["H264", "rtsp://cam/ch1/trackID=1"],
      ["PCMA", "rtsp://cam/ch1?tm=unicast"]
    ])
    assert.deepInclude(media[1], { clockRate: 8000, sampleRate: 8000, channels: 1 })
  })

  it("takes G.722 by its static payload type or its rtpmap: 16 kHz audio on the 8000 Hz RTP clock", () => {
    for (const lines of [["m=audio 0 RTP/AVP 9"], ["m=audio 0 RTP/AVP 101", "a=rtpmap:101 g722/8000/1"]]) {
      const { media, skipped } = chooseMedia(sdp(...lines, "a=control:track2"), "rtsp://cam/live/")
      assert.deepStrictEqual(skipped, [])
      assert.deepStrictEqual(media, [{
        kind: "audio",
        codec: "G722",
        payloadType: lines.length === 1 ? 9 : 101,
        clockRate: 8000,
        control: "rtsp://cam/live/track2",
        sampleRate: 16_000,
        channels: 1,
        config: new Uint8Array(0),
        aac: undefined
      }])
    }
    const stereo = chooseMedia(sdp("m=audio 0 RTP/AVP 9 0", "a=rtpmap:9 G722/8000/2"), "rtsp://cam/")
    assert.deepStrictEqual(stereo.media.map((m) => m.codec), ["PCMU"], "the next format of the m= line")
    assert.deepStrictEqual(stereo.skipped, [])
  })

  it("skips what it cannot pull, and says why", () => {
    const { media, skipped } = chooseMedia(
      sdp(
        "m=video 0 RTP/AVP 98",
        "a=rtpmap:98 H265/90000",
        "m=video 0 RTP/AVP 96",
        "a=rtpmap:96 H264/90000",
        "a=fmtp:96 packetization-mode=2",
        "m=audio 0 RTP/AVP 97 0",
        "a=rtpmap:97 MPEG4-GENERIC/48000/2",
        "a=fmtp:97 mode=AAC-lbr;sizeLength=6;indexLength=2;indexDeltaLength=2",
        "m=audio 0 RTP/AVP 99",
        "a=rtpmap:99 MP4A-LATM/44100",
        "m=application 0 RTP/AVP 107",
        "a=rtpmap:107 vnd.onvif.metadata/90000",
        "m=video 0 RTP/SAVP 96",
        "m=audio 0 RTP/AVP 100",
        "a=rtpmap:100 PCMA/8000/2"
      ),
      "rtsp://cam/"
    )
    assert.deepStrictEqual(skipped, [
      "video H265 is not supported",
      "H.264 packetization-mode 2 (interleaved) is not supported",
      "audio MP4A-LATM is not supported",
      "application vnd.onvif.metadata is not supported",
      "video over RTP/SAVP",
      "PCMA with 2 channels is not supported"
    ])
    // The AAC without config is skipped in favour of PCMU, the next format of its m= line.
    assert.deepStrictEqual(media.map((m) => `${m.kind} ${m.codec} ${m.payloadType}`), ["audio PCMU 0"])
  })

  it("takes one video and one audio at most", () => {
    const { media, skipped } = chooseMedia(
      sdp("m=audio 0 RTP/AVP 0", "m=audio 0 RTP/AVP 8", "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000"),
      "rtsp://cam/"
    )
    assert.deepStrictEqual(media.map((m) => m.codec), ["PCMU", "H264"])
    assert.deepStrictEqual(skipped, ["another audio media (PCMA)"])
  })
})
