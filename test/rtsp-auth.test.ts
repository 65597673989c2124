/**
 * RTSP authentication (RFC 2617): the Digest response of RFC 2617 3.5's example, the RFC 2069 form GStreamer asks
 * for, MD5-sess, Basic, and reading the challenges of real and hand-written WWW-Authenticate headers.
 */
import { assert, describe, it } from "@effect/vitest"
import * as crypto from "node:crypto"
import {
  authorization,
  basicAuthorization,
  type Challenge,
  digestResponse,
  parseChallenges,
  pickChallenge
} from "../src/protocols/rtsp/rtsp-auth.ts"

const md5 = (text: string) => crypto.createHash("md5").update(text).digest("hex")
type Digest = Extract<Challenge, { scheme: "Digest" }>

/** RFC 2617 3.5: "Mufasa" / "Circle Of Life", GET /dir/index.html, qop=auth, nc=00000001, cnonce 0a4f113b. */
const rfcChallenge: Digest = {
  scheme: "Digest",
  realm: "testrealm@host.com",
  nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
  opaque: "5ccc069c403ebaf9f0171e9517f40e41",
  algorithm: "MD5",
  qop: ["auth", "auth-int"]
}
const mufasa = { username: "Mufasa", password: "Circle Of Life" }
const rfcInput = { method: "GET", uri: "/dir/index.html", nonceCount: 1, cnonce: "0a4f113b" }

describe("Digest", () => {
  it("computes the response of RFC 2617's example", () => {
    assert.strictEqual(digestResponse(mufasa, rfcChallenge, rfcInput), "6629fae49393a05397450978507c4ef1")
  })

  it("writes the Authorization header of RFC 2617's example", () => {
    assert.strictEqual(
      authorization(mufasa, rfcChallenge, rfcInput),
      'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
        'uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", ' +
        'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001, cnonce="0a4f113b"'
    )
  })

  it("answers GStreamer's challenge, which has no qop, in the RFC 2069 form", () => {
    const [challenge] = parseChallenges(['Digest realm="GStreamer RTSP Server", nonce="3760c3d2e90a7ae8"'])
    assert.deepStrictEqual(challenge, {
      scheme: "Digest",
      realm: "GStreamer RTSP Server",
      nonce: "3760c3d2e90a7ae8",
      opaque: undefined,
      algorithm: "MD5",
      qop: []
    })
    const input = { method: "DESCRIBE", uri: "rtsp://127.0.0.1:8554/h264aac", nonceCount: 1, cnonce: "x" }
    const ha1 = md5("admin:GStreamer RTSP Server:pw")
    const ha2 = md5("DESCRIBE:rtsp://127.0.0.1:8554/h264aac")
    const credentials = { username: "admin", password: "pw" }
    assert.strictEqual(digestResponse(credentials, challenge as Digest, input), md5(`${ha1}:3760c3d2e90a7ae8:${ha2}`))
    const header = authorization(credentials, challenge!, input)
    assert.notInclude(header, "qop")
    assert.notInclude(header, "cnonce")
  })

  it("hashes the session key for MD5-sess", () => {
    const challenge: Digest = { ...rfcChallenge, algorithm: "MD5-sess" }
    const ha1 = md5(`${md5("Mufasa:testrealm@host.com:Circle Of Life")}:${rfcChallenge.nonce}:0a4f113b`)
    const ha2 = md5("GET:/dir/index.html")
    assert.strictEqual(
      digestResponse(mufasa, challenge, rfcInput),
      md5(`${ha1}:${rfcChallenge.nonce}:00000001:0a4f113b:auth:${ha2}`)
    )
    assert.include(authorization(mufasa, challenge, rfcInput), "algorithm=MD5-sess")
  })
})

describe("Basic", () => {
  it("sends user:password in base64 (RFC 2617 2)", () => {
    const header = basicAuthorization({ username: "Aladdin", password: "open sesame" })
    assert.strictEqual(header, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
  })
})

describe("parseChallenges", () => {
  it("reads several challenges in one header and across headers, and prefers Digest", () => {
    const challenges = parseChallenges([
      'Basic realm="cam", Digest realm="cam", nonce="a\\"b", qop="auth,auth-int", algorithm=MD5, stale=FALSE',
      "Negotiate abc"
    ])
    assert.deepStrictEqual(challenges.map((c) => c.scheme), ["Basic", "Digest"])
    assert.deepInclude(challenges[1], { nonce: 'a"b', qop: ["auth", "auth-int"] })
    assert.strictEqual(pickChallenge(challenges)?.scheme, "Digest")
  })

  it("ignores Digest without a nonce or with an algorithm it cannot compute", () => {
    assert.deepStrictEqual(parseChallenges(['Digest realm="x"', 'Digest realm="x", nonce="n", algorithm=SHA-256']), [])
    assert.isUndefined(pickChallenge([]))
  })
})
