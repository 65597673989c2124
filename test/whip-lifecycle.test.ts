/**
 * A WHIP session's life: key frame requests (the session's, and the periodic FIR) reach a werift sender as PLI and
 * FIR; a peer that vanishes, or never connects, ends its publication as failed; stopping the server ends it as a
 * clean "server stopped".
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Layer, Scope } from "effect"
import type { CollectedPublication } from "./fixtures/rtmp/collecting-publisher.ts"
import { encodeAudio, encodeVideo } from "./fixtures/webrtc/test-media.ts"
import { WhipSender } from "./fixtures/webrtc/whip-sender.ts"
import { request, serverUrl, whipTestServer } from "./fixtures/webrtc/whip-test-server.ts"

const video = encodeVideo("H264", { seconds: 1 })
const audio = encodeAudio("PCMA", 1)

const connectedSender = (media: ConstructorParameters<typeof WhipSender>[0], name: string) =>
  Effect.gen(function*() {
    const sender = new WhipSender(media)
    yield* Effect.addFinalizer(() => Effect.promise(() => sender.close()))
    const url = yield* serverUrl(`/whip/${name}`)
    const answer = yield* Effect.promise(() => sender.publish(url))
    assert.strictEqual(answer.status, 201, answer.body)
    yield* Effect.promise(() => sender.connected())
    return sender
  })

const closedWithin = (publication: CollectedPublication, seconds: number) =>
  Deferred.await(publication.closed).pipe(Effect.timeout(Duration.seconds(seconds)))

describe("WHIP session lifecycle", () => {
  it.live("sends a PLI and a FIR when the session asks for a key frame, once the connection is up", () => {
    const server = whipTestServer()
    return Effect.gen(function*() {
      const sender = new WhipSender({ video, fir: true })
      yield* Effect.addFinalizer(() => Effect.promise(() => sender.close()))
      const url = yield* serverUrl("/whip/life-keyframe")
      assert.strictEqual((yield* Effect.promise(() => sender.publish(url))).status, 201)
      // Asked before ICE and DTLS are up (a recording that starts with the publication): sent when they are.
      server.publication("life-keyframe")!.request.requestKeyframe!()
      yield* Effect.promise(() => sender.connected())
      // Past the 500 ms spacing of requests, counted from when the server saw the connection.
      yield* Effect.sleep(Duration.millis(800))
      assert.deepStrictEqual([sender.pli, sender.fir], [1, 1])
      const publication = server.publication("life-keyframe")!
      publication.request.requestKeyframe!()
      publication.request.requestKeyframe!() // spaced: the second one within 500 ms is left out
      yield* Effect.sleep(Duration.millis(300))
      assert.deepStrictEqual([sender.pli, sender.fir], [2, 2])
      yield* request(sender.location!, { method: "DELETE" })
    }).pipe(Effect.provide(server.layer), Effect.scoped)
  })

  it.live("asks every second for a key frame with periodic_fir_request", () => {
    const server = whipTestServer({ periodicFirRequest: true, firPeriod: Duration.seconds(1) })
    return Effect.gen(function*() {
      const sender = yield* connectedSender({ video, fir: true }, "life-periodic")
      yield* Effect.sleep(Duration.millis(3500))
      assert.isAtLeast(sender.fir, 2)
      assert.isAtMost(sender.fir, 4)
      assert.strictEqual(sender.pli, sender.fir)
      yield* request(sender.location!, { method: "DELETE" })
    }).pipe(Effect.provide(server.layer), Effect.scoped)
  })

  it.live("ends the publication as failed when the peer stops sending and never says goodbye", () => {
    const server = whipTestServer({ idleTimeout: Duration.millis(1500) })
    return Effect.gen(function*() {
      const sender = yield* connectedSender({ audio }, "life-vanish")
      yield* Effect.promise(() => sender.send({ audio }))
      yield* Effect.promise(() => sender.close())
      const closed = yield* closedWithin(server.publication("life-vanish")!, 5)
      assert.isTrue(closed.failed)
      assert.oneOf(closed.message, ["no media for 1.5 s", "ICE or DTLS failed"])
    }).pipe(Effect.provide(server.layer), Effect.scoped)
  })

  it.live("ends the publication as failed when ICE never connects", () => {
    const server = whipTestServer({ connectTimeout: Duration.seconds(1) })
    return Effect.gen(function*() {
      const sender = new WhipSender({ audio })
      yield* Effect.addFinalizer(() => Effect.promise(() => sender.close()))
      const offer = yield* Effect.promise(() => sender.offer())
      // The answer is never applied: the server's connectivity checks get no answer.
      const headers = { "content-type": "application/sdp" }
      const answered = yield* request("/whip/life-noice", { method: "POST", headers, body: offer })
      assert.strictEqual(answered.status, 201)
      const closed = yield* closedWithin(server.publication("life-noice")!, 5)
      assert.deepStrictEqual(closed, { failed: true, message: "ICE/DTLS did not connect within 1 s" })
    }).pipe(Effect.provide(server.layer), Effect.scoped)
  })

  it.live("ends every publication as a clean \"server stopped\" when the server's scope closes", () => {
    const server = whipTestServer()
    return Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(server.layer, scope)
      yield* connectedSender({ audio }, "life-stop").pipe(Effect.provideContext(context))
      const publication = server.publication("life-stop")!
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* closedWithin(publication, 5), { failed: false, message: "server stopped" })
    }).pipe(Effect.scoped)
  })
})
