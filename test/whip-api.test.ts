/**
 * The WHIP endpoint's contract (RFC 9725) over real HTTP on 127.0.0.1: statuses and JSON reasons for every refusal
 * (400, 404, 405, 406, 409, 415), CORS on preflights and answers, the record flag, and that refused requests open
 * no publication.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect } from "effect"
import { WhipSender } from "./fixtures/webrtc/whip-sender.ts"
import { encodeAudio } from "./fixtures/webrtc/test-media.ts"
import { request, serverUrl, whipTestServer } from "./fixtures/webrtc/whip-test-server.ts"

const audio = encodeAudio("PCMU", 1)
const sdp = { "content-type": "application/sdp" }

/** A real offer from a werift peer sending PCMU, closed when the test ends. */
const senderOffer = Effect.gen(function*() {
  const sender = new WhipSender({ audio })
  yield* Effect.addFinalizer(() => Effect.promise(() => sender.close()))
  return { sender, offer: yield* Effect.promise(() => sender.offer()) }
})

const json = (body: string) => JSON.parse(body) as { readonly error: string; readonly reason: string }

describe("WHIP endpoint", () => {
  const server = whipTestServer({ record: false })

  it.live("answers 415 to an offer that is not application/sdp, 400 to one that is not SDP", () =>
    Effect.gen(function*() {
      const { offer } = yield* senderOffer
      const text = { "content-type": "text/plain" }
      const wrongType = yield* request("/whip/api-415", { method: "POST", headers: text, body: offer })
      assert.strictEqual(wrongType.status, 415)
      assert.strictEqual(json(wrongType.body).error, "UnsupportedMediaType")
      const noType = yield* request("/whip/api-415", { method: "POST", body: new Uint8Array(Buffer.from(offer)) })
      assert.strictEqual(noType.status, 415)
      const garbage = yield* request("/whip/api-400", { method: "POST", headers: sdp, body: "hello" })
      assert.strictEqual(garbage.status, 400)
      assert.deepStrictEqual(json(garbage.body), {
        error: "WhipBadOffer",
        reason: "not an SDP session description: it must start with v=0"
      })
      assert.strictEqual(garbage.headers.get("access-control-allow-origin"), "*")
      const badFlag = yield* request("/whip/api-400?record=maybe", { method: "POST", headers: sdp, body: offer })
      assert.strictEqual(badFlag.status, 400)
      assert.strictEqual(json(badFlag.body).reason, "record must be true or false, not maybe")
      assert.strictEqual(server.publication("api-415"), undefined)
      assert.strictEqual(server.publication("api-400"), undefined)
    }).pipe(Effect.provide(server.layer), Effect.scoped))

  it.live("answers 406 with a reason naming the offered codecs when none can be recorded", () =>
    Effect.gen(function*() {
      const { offer } = yield* senderOffer
      const g722 = offer.replace("UDP/TLS/RTP/SAVPF 0\r\n", "UDP/TLS/RTP/SAVPF 9\r\n")
        .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:9 G722/8000")
      assert.notStrictEqual(g722, offer)
      const refused = yield* request("/whip/api-406", { method: "POST", headers: sdp, body: g722 })
      assert.strictEqual(refused.status, 406)
      assert.deepStrictEqual(json(refused.body), {
        error: "WhipUnsupportedOffer",
        reason: "no offered codec can be recorded (H264 packetization-mode=1, VP8, opus, PCMA, PCMU); " +
          "offered audio: G722/8000"
      })
      assert.strictEqual(server.publication("api-406"), undefined)
    }).pipe(Effect.provide(server.layer), Effect.scoped))

  it.live("answers 409 to a second publish of a live stream name, and leaves the first one alone", () =>
    Effect.gen(function*() {
      const first = yield* senderOffer
      const url = yield* serverUrl("/whip/api-409")
      const published = yield* Effect.promise(() => first.sender.publish(url))
      assert.strictEqual(published.status, 201)
      const second = yield* senderOffer
      const refused = yield* request("/whip/api-409", { method: "POST", headers: sdp, body: second.offer })
      assert.strictEqual(refused.status, 409)
      assert.deepStrictEqual(json(refused.body), {
        error: "WhipConflict",
        reason: "stream api-409 is already publishing"
      })
      const publication = server.publication("api-409")!
      assert.isFalse(Deferred.isDoneUnsafe(publication.closed))
      const deleted = yield* request(first.sender.location!, { method: "DELETE" })
      assert.strictEqual(deleted.status, 200)
      assert.deepStrictEqual(yield* Deferred.await(publication.closed).pipe(Effect.timeout(Duration.seconds(5))), {
        failed: false,
        message: "the client ended the session (WHIP DELETE)"
      })
    }).pipe(Effect.provide(server.layer), Effect.scoped))

  it.live("answers 404 to a DELETE of an unknown session or of a session under another stream name", () =>
    Effect.gen(function*() {
      const { sender } = yield* senderOffer
      const url = yield* serverUrl("/whip/api-404")
      const published = yield* Effect.promise(() => sender.publish(url))
      assert.strictEqual(published.status, 201)
      const resourceId = sender.location!.split("/").at(-1)!
      const unknown = yield* request("/whip/api-404/00000000-0000-0000-0000-000000000000", { method: "DELETE" })
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual(json(unknown.body).error, "WhipSessionNotFound")
      const elsewhere = yield* request(`/whip/other-name/${resourceId}`, { method: "DELETE" })
      assert.strictEqual(elsewhere.status, 404)
      assert.isFalse(Deferred.isDoneUnsafe(server.publication("api-404")!.closed))
      assert.strictEqual((yield* request(sender.location!, { method: "DELETE" })).status, 200)
      assert.strictEqual((yield* request(sender.location!, { method: "DELETE" })).status, 404, "already gone")
    }).pipe(Effect.provide(server.layer), Effect.scoped))

  it.live("answers CORS preflights for the endpoint and the session URL, and refuses trickle ICE with 405", () =>
    Effect.gen(function*() {
      for (const path of ["/whip/api-cors", "/whip/api-cors/some-session"]) {
        const preflight = yield* request(path, {
          method: "OPTIONS",
          headers: {
            origin: "http://example.test",
            "access-control-request-method": path.endsWith("session") ? "DELETE" : "POST",
            "access-control-request-headers": "content-type, authorization"
          }
        })
        assert.strictEqual(preflight.status, 204)
        assert.strictEqual(preflight.headers.get("access-control-allow-origin"), "*")
        const list = (name: string) => preflight.headers.get(name)?.split(", ") ?? []
        assert.includeMembers(list("access-control-allow-methods"), ["POST", "DELETE", "OPTIONS"])
        assert.includeMembers(list("access-control-allow-headers"), ["Content-Type", "Authorization"])
        assert.includeMembers(list("access-control-expose-headers"), ["Location", "X-Media-Session-Id"])
        assert.strictEqual(preflight.headers.get("accept-post"), "application/sdp")
      }
      const patch = yield* request("/whip/api-cors/some-session", { method: "PATCH", body: "a=candidate:..." })
      assert.strictEqual(patch.status, 405)
      assert.strictEqual(patch.headers.get("allow"), "DELETE, OPTIONS")
    }).pipe(Effect.provide(server.layer), Effect.scoped))

  it.live("takes record from ?record= and otherwise from the record option, and passes the query on", () =>
    Effect.gen(function*() {
      const cases = [["", false], ["?record=true&login=bob", true], ["?record=false", false]] as const
      for (const [query, expected] of cases) {
        const { sender } = yield* senderOffer
        const url = yield* serverUrl(`/whip/api-record${query}`)
        const published = yield* Effect.promise(() => sender.publish(url))
        assert.strictEqual(published.status, 201, published.body)
        const publication = server.publication("api-record")!
        assert.strictEqual(publication.request.record, expected, `record for "${query}"`)
        if (query.includes("login")) assert.strictEqual(publication.request.query["login"], "bob")
        assert.strictEqual((yield* request(sender.location!, { method: "DELETE" })).status, 200)
      }
    }).pipe(Effect.provide(server.layer), Effect.scoped))

  it.live("binds ICE inside webrtc_port_range and advertises only 127.0.0.1 there", () => {
    const ranged = whipTestServer({ portRange: [47_000, 47_199] })
    return Effect.gen(function*() {
      const { sender } = yield* senderOffer
      const url = yield* serverUrl("/whip/api-ports")
      const published = yield* Effect.promise(() => sender.publish(url))
      assert.strictEqual(published.status, 201)
      const candidates = published.body.split("\r\n").filter((line) => line.startsWith("a=candidate:"))
      assert.isNotEmpty(candidates)
      for (const candidate of candidates) {
        const [, , , , address, port] = candidate.split(" ")
        assert.strictEqual(address, "127.0.0.1")
        assert.isAtLeast(Number(port), 47_000)
        assert.isAtMost(Number(port), 47_199)
      }
      assert.strictEqual((yield* request(sender.location!, { method: "DELETE" })).status, 200)
    }).pipe(Effect.provide(ranged.layer), Effect.scoped)
  })

  it.live("decodes the stream name once, and its session URL leads back to it", () =>
    Effect.gen(function*() {
      const { sender } = yield* senderOffer
      const url = yield* serverUrl(`/whip/${encodeURIComponent("caméra 1")}`)
      const published = yield* Effect.promise(() => sender.publish(url))
      assert.strictEqual(published.status, 201)
      assert.strictEqual(server.publication("caméra 1")?.request.streamName, "caméra 1")
      assert.match(sender.location!, /^\/whip\/cam%C3%A9ra%201\/[0-9a-f-]{36}$/)
      assert.strictEqual((yield* request(sender.location!, { method: "DELETE" })).status, 200)
      assert.isTrue(Deferred.isDoneUnsafe(server.publication("caméra 1")!.closed))
    }).pipe(Effect.provide(server.layer), Effect.scoped))
})
