/**
 * Reading WHIP offers: a real Chromium 156 offer keeps exactly the payloads the ingest records (H.264 only with
 * packetization-mode=1, their RTX repairs), offers with nothing recordable are refused with a reason naming what
 * was offered, and what is not an answerable offer is malformed. Also the candidate filter of answers.
 */
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { checkOffer } from "../src/protocols/webrtc/offer-codecs.ts"
import { candidateAddresses, keepCandidates } from "../src/protocols/webrtc/sdp-candidates.ts"

const chromium = readFileSync(new URL("./fixtures/webrtc/chromium-offer.sdp", import.meta.url), "utf8")

const mediaLines = (sdp: string) => sdp.split("\r\n").filter((line) => line.startsWith("m="))
const payloadAttributes = (sdp: string) =>
  new Set(sdp.split("\r\n").flatMap((line) => /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)/.exec(line)?.[1] ?? []))

const offer = (...sections: ReadonlyArray<string>) =>
  [
    "v=0",
    "o=- 1 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=fingerprint:sha-256 AB:CD",
    "a=ice-ufrag:abcd",
    "a=ice-pwd:0123456789abcdefghijkl",
    ...sections
  ].join("\r\n") + "\r\n"

const video = (formats: string, ...attributes: ReadonlyArray<string>) =>
  [`m=video 9 UDP/TLS/RTP/SAVPF ${formats}`, "c=IN IP4 0.0.0.0", "a=mid:1", "a=sendonly", ...attributes].join("\r\n")
const audio = (formats: string, ...attributes: ReadonlyArray<string>) =>
  [`m=audio 9 UDP/TLS/RTP/SAVPF ${formats}`, "c=IN IP4 0.0.0.0", "a=mid:0", "a=sendonly", ...attributes].join("\r\n")

describe("checkOffer", () => {
  it("keeps Chromium's recordable payloads and their RTX, and nothing else", () => {
    const checked = checkOffer(chromium)
    assert.strictEqual(checked._tag, "Offer")
    if (checked._tag !== "Offer") return
    assert.deepStrictEqual(mediaLines(checked.sdp).map((line) => line.split(" ").slice(3).join(" ")), [
      "111 0 8", // opus, PCMU, PCMA; not red, G722, CN, telephone-event
      "96 97 102 103 108 109 116 117" // VP8+rtx, H.264 pm=1 42001f/42e01f/4d001f + rtx; no pm=0, AV1, VP9, red, fec
    ])
    assert.deepStrictEqual(checked.sections.map((s) => [s.kind, s.codecs]), [
      ["audio", ["OPUS", "PCMU", "PCMA"]],
      ["video", ["VP8", "H264"]]
    ])
    const kept = payloadAttributes(checked.sdp)
    for (const dropped of ["63", "9", "13", "110", "104", "107", "114", "39", "45", "98", "118", "120"]) {
      assert.isFalse(kept.has(dropped), `attributes of payload ${dropped} are gone`)
    }
    // Everything else of the offer (ICE, DTLS, extensions, SSRCs) is left as it was.
    const others = (sdp: string) =>
      sdp.split("\r\n").filter((line) => !/^(m=|a=(rtpmap|fmtp|rtcp-fb):\d)/.test(line))
    assert.deepStrictEqual(others(checked.sdp), others(chromium))
  })

  it("refuses an offer whose only H.264 is packetization-mode=0, naming what was offered (406)", () => {
    const checked = checkOffer(offer(video("100", "a=rtpmap:100 H264/90000", "a=fmtp:100 profile-level-id=42e01f")))
    assert.deepStrictEqual(checked, {
      _tag: "Unsupported",
      reason: "no offered codec can be recorded (H264 packetization-mode=1, VP8, opus, PCMA, PCMU); " +
        "offered video: H264/90000"
    })
  })

  it("refuses one section by port 0 and keeps the other when only one can be recorded", () => {
    const checked = checkOffer(offer(
      audio("111", "a=rtpmap:111 opus/48000/2"),
      video("98", "a=rtpmap:98 VP9/90000")
    ))
    assert.strictEqual(checked._tag, "Offer")
    if (checked._tag !== "Offer") return
    assert.deepStrictEqual(mediaLines(checked.sdp), [
      "m=audio 9 UDP/TLS/RTP/SAVPF 111",
      "m=video 0 UDP/TLS/RTP/SAVPF 98"
    ])
    assert.deepStrictEqual(checked.sections.map((s) => s.codecs), [["OPUS"], []])
  })

  it("refuses an offer without audio or video", () => {
    const checked = checkOffer(offer("m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:0"))
    assert.deepStrictEqual(checked, { _tag: "Unsupported", reason: "the offer has no audio or video section" })
  })

  const malformed: ReadonlyArray<readonly [string, string, string]> = [
    ["not SDP", "hello", "not an SDP session description: it must start with v=0"],
    ["no media", offer(), "the offer has no media section (m= line)"],
    [
      "no ICE credentials",
      offer(audio("0", "a=rtpmap:0 PCMU/8000")).replace("a=ice-ufrag:abcd\r\n", ""),
      "the offer lacks a=ice-ufrag"
    ],
    [
      "no fingerprint",
      offer(audio("0", "a=rtpmap:0 PCMU/8000")).replace("a=fingerprint:sha-256 AB:CD\r\n", ""),
      "the offer lacks a=fingerprint"
    ],
    ["an unreadable media line", offer("m=audio nine RTP/AVP 0"), "unreadable media line: m=audio nine RTP/AVP 0"]
  ]
  for (const [name, sdp, reason] of malformed) {
    it(`calls ${name} malformed (400)`, () => {
      assert.deepStrictEqual(checkOffer(sdp), { _tag: "Malformed", reason })
    })
  }

  it("accepts ICE credentials given per section instead of per session", () => {
    const perSection = offer(audio("8", "a=rtpmap:8 PCMA/8000", "a=ice-ufrag:x", "a=ice-pwd:y", "a=fingerprint:z"))
      .replace("a=ice-ufrag:abcd\r\n", "").replace("a=ice-pwd:0123456789abcdefghijkl\r\n", "")
    assert.strictEqual(checkOffer(perSection)._tag, "Offer")
  })
})

describe("SDP candidates", () => {
  it("lists the addresses of a description's candidates and cuts an answer down to the allowed ones", () => {
    assert.deepStrictEqual(candidateAddresses(chromium), ["127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1"])
    const answer = [
      "v=0",
      "m=audio 9 UDP/TLS/RTP/SAVPF 111",
      "a=candidate:1 1 udp 2116026367 127.0.0.1 4000 typ host generation 0",
      "a=candidate:2 1 udp 2116026367 192.0.2.2 4001 typ host generation 0",
      "a=candidate:3 1 udp 2116026367 fd00::2 4002 typ host generation 0",
      "a=end-of-candidates",
      ""
    ].join("\r\n")
    const kept = keepCandidates(answer, (address) => address === "127.0.0.1")
    assert.deepStrictEqual(candidateAddresses(kept), ["127.0.0.1"])
    assert.include(kept, "a=end-of-candidates")
  })
})
