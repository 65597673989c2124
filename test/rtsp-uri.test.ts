/**
 * Camera URIs: credentials percent-decoded and kept out of the redacted URI, default port 554, refusals, and the
 * resolution of a=control URLs against the base (RFC 2326 C.1.1, as cameras mean it).
 */
import { assert, describe, it } from "@effect/vitest"
import { parseRtspUri, resolveControl, sameControl } from "../src/protocols/rtsp/rtsp-uri.ts"

describe("parseRtspUri", () => {
  it("takes the credentials out, percent-decoded", () => {
    assert.deepStrictEqual(parseRtspUri("rtsp://us%40er:p%3Ass%25@cam.local:8554/live/ch1?sub=1#x"), {
      host: "cam.local",
      port: 8554,
      redacted: "rtsp://cam.local:8554/live/ch1?sub=1",
      credentials: { username: "us@er", password: "p:ss%" }
    })
  })

  it("defaults the port to 554 and the path to /, and reads IPv6 hosts", () => {
    const bare = parseRtspUri("rtsp://192.0.2.1")
    assert.deepInclude(bare, { host: "192.0.2.1", port: 554, redacted: "rtsp://192.0.2.1/" })
    assert.deepInclude(parseRtspUri("rtsp://[::1]:10554/x"), { host: "::1", port: 10554, credentials: undefined })
    assert.deepInclude(parseRtspUri("rtsp://admin@cam/x"), { credentials: { username: "admin", password: "" } })
  })

  const refused: ReadonlyArray<readonly [string, string]> = [
    ["not a uri", "not a URI"],
    ["http://cam/x", "scheme http is not rtsp"],
    ["rtsps://cam/x", "scheme rtsps is not rtsp"],
    ["rtsp:///x", "no host"],
    ["rtsp://a:%E0%A4%A@cam/x", "credentials are not valid percent-encoding"]
  ]
  for (const [uri, problem] of refused) {
    it(`refuses ${uri}`, () => assert.deepStrictEqual(parseRtspUri(uri), { problem }))
  }
})

describe("resolveControl", () => {
  const cases: ReadonlyArray<readonly [string, string | undefined, string]> = [
    ["rtsp://h/live/", "stream=0", "rtsp://h/live/stream=0"],
    ["rtsp://h/live", "trackID=1", "rtsp://h/live/trackID=1"],
    ["rtsp://h/ch?x=1", "trackID=1", "rtsp://h/ch?x=1/trackID=1"],
    ["rtsp://h/live", "rtsp://other/track", "rtsp://other/track"],
    ["rtsp://h/live", "*", "rtsp://h/live"],
    ["rtsp://h/live", undefined, "rtsp://h/live"]
  ]
  for (const [base, control, expected] of cases) {
    it(`${base} + ${control} = ${expected}`, () => assert.strictEqual(resolveControl(base, control), expected))
  }

  it("compares URLs regardless of a trailing slash, case or credentials", () => {
    assert.isTrue(sameControl("rtsp://u:p@H/live/stream=0/", "rtsp://h/live/stream=0"))
    assert.isFalse(sameControl("rtsp://h/live/stream=0", "rtsp://h/live/stream=1"))
  })
})
