/**
 * The WebRTC ingest service: WHIP sessions (RFC 9725) on werift, each a supervised fiber in the service's FiberMap
 * that owns its peer connection and publication. The HTTP endpoint (src/http/whip-api.ts) calls `publish` for a POST
 * and `stop` for a DELETE; closing the service's scope ends every session as "server stopped".
 */
import * as crypto from "node:crypto"
import { Clock, Context, Deferred, Duration, Effect, Fiber, FiberMap, Layer } from "effect"
import { Publisher } from "../../media/publisher.ts"
import { createPeer } from "./peer-connection.ts"
import { WhipSessionNotFound, type WhipPublishError } from "./whip-errors.ts"
import { runWhipSession } from "./whip-session.ts"
import { type WhipAnswer, WhipSession, type WhipSessionSettings, type WhipSessionView } from "./whip-session-state.ts"

export interface WhipIngestOptions {
  /** Whether a publish without `?record=` asks for recording (record_streams). */
  readonly record: boolean
  /** webrtc_ice_host_addresses: host addresses advertised besides the machine's own, e.g. ["127.0.0.1"]. */
  readonly iceHostAddresses?: ReadonlyArray<string> | undefined
  /** webrtc_ice_host_addresses_only: advertise and use nothing but `iceHostAddresses`. Default false. */
  readonly iceHostAddressesOnly?: boolean | undefined
  /** webrtc_port_range=min-max: the UDP ports ICE binds. Default: any. */
  readonly portRange?: readonly [number, number] | undefined
  /** webrtc_pre_init: build and close one peer connection at start, so the first publish is not slowed. */
  readonly preInit?: boolean | undefined
  /** periodic_fir_request: ask every video publisher for a key frame every `firPeriod`. Default false. */
  readonly periodicFirRequest?: boolean | undefined
  /** webrtc_periodic_fir_interval. Default 5 seconds. */
  readonly firPeriod?: Duration.Input | undefined
  /** ICE and DTLS must connect within this long after the answer. Default 30 seconds. */
  readonly connectTimeout?: Duration.Input | undefined
  /** A connection disconnected this long has failed. Default 10 seconds. */
  readonly disconnectTimeout?: Duration.Input | undefined
  /** A connected session without RTP this long has failed (webrtc_idle_timeout). Default 10 seconds. */
  readonly idleTimeout?: Duration.Input | undefined
  /** How long the first frames wait for every track's sender report, to align audio and video. Default 4 s. */
  readonly syncHold?: Duration.Input | undefined
  /** How long a DELETE waits for the publication to close (its recording to be finalized). Default 30 s. */
  readonly stopTimeout?: Duration.Input | undefined
}

export interface WhipPublishInput {
  readonly streamName: string
  /** The SDP offer (the POST body). */
  readonly sdp: string
  /** `?record=true|false`; the `record` option when absent. */
  readonly record?: boolean | undefined
  /** Query parameters of the POST, passed on in the PublishRequest. */
  readonly query?: Readonly<Record<string, string>> | undefined
  readonly remoteAddress: string
}

export interface WhipPublished {
  /** The session's resource id: its URL is `/whip/{streamName}/{resourceId}`. */
  readonly resourceId: string
  /** The SDP answer, with every candidate the server will use (no trickle ICE). */
  readonly answer: string
  readonly mediaSessionId: string
}

export class WhipIngest extends Context.Service<WhipIngest, {
  readonly publish: (input: WhipPublishInput) => Effect.Effect<WhipPublished, WhipPublishError>
  /** Ends the session at `/whip/{streamName}/{resourceId}` and waits until its publication is closed. */
  readonly stop: (streamName: string, resourceId: string) => Effect.Effect<void, WhipSessionNotFound>
  readonly list: Effect.Effect<ReadonlyArray<WhipSessionView>>
}>()("capstan/protocols/webrtc/WhipIngest") {
  static readonly layer = (options: WhipIngestOptions): Layer.Layer<WhipIngest, never, Publisher> =>
    Layer.effect(WhipIngest, make(options))
}

const millis = (input: Duration.Input | undefined, fallback: Duration.Input): number =>
  Duration.toMillis(Duration.fromInputUnsafe(input ?? fallback))

export const sessionSettings = (options: WhipIngestOptions): WhipSessionSettings => ({
  iceHostAddresses: options.iceHostAddresses ?? [],
  iceHostAddressesOnly: options.iceHostAddressesOnly ?? false,
  portRange: options.portRange,
  connectTimeoutMs: millis(options.connectTimeout, Duration.seconds(30)),
  disconnectTimeoutMs: millis(options.disconnectTimeout, Duration.seconds(10)),
  idleTimeoutMs: millis(options.idleTimeout, Duration.seconds(10)),
  periodicFirRequest: options.periodicFirRequest ?? false,
  firPeriodMs: millis(options.firPeriod, Duration.seconds(5)),
  syncHoldMs: millis(options.syncHold, Duration.seconds(4))
})

/** Builds and closes one peer connection (certificate, sockets, codec tables), timing it for the log. */
const preInitialize = Effect.fn("WhipIngest.preInit")(function*(settings: WhipSessionSettings) {
  const started = yield* Clock.currentTimeMillis
  const peer = createPeer(settings)
  peer.addTransceiver("video", { direction: "recvonly" })
  peer.addTransceiver("audio", { direction: "recvonly" })
  yield* Effect.tryPromise(() => peer.setLocalDescription()).pipe(
    Effect.ensuring(Effect.promise(() => peer.close())),
    Effect.catch((error) => Effect.logWarning(`WebRTC pre-initialization failed: ${String(error)}`))
  )
  const ended = yield* Clock.currentTimeMillis
  yield* Effect.logInfo(`WebRTC stack pre-initialized in ${ended - started} ms`)
})

export const make = Effect.fn("WhipIngest.make")(function*(options: WhipIngestOptions) {
  const publisher = yield* Publisher
  const settings = sessionSettings(options)
  const stopTimeout = Duration.fromInputUnsafe(options.stopTimeout ?? Duration.seconds(30))
  const fibers = yield* FiberMap.make<string>()
  const sessions = new Map<string, { readonly session: WhipSession; readonly fiber: Fiber.Fiber<void> }>()
  if (options.preInit === true) yield* preInitialize(settings)

  const publish = Effect.fn("WhipIngest.publish")(function*(input: WhipPublishInput) {
    const resourceId = crypto.randomUUID()
    const session = new WhipSession({
      resourceId,
      streamName: input.streamName,
      sdp: input.sdp,
      record: input.record ?? options.record,
      query: input.query ?? {},
      remoteAddress: input.remoteAddress
    })
    const answered = yield* Deferred.make<WhipAnswer, WhipPublishError>()
    const fiber = yield* FiberMap.run(fibers, resourceId)(
      runWhipSession(session, settings, publisher, answered).pipe(
        Effect.ensuring(Effect.sync(() => sessions.delete(resourceId)))
      )
    )
    sessions.set(resourceId, { session, fiber })
    const answer = yield* Deferred.await(answered).pipe(
      Effect.tapError(() => Effect.sync(() => sessions.delete(resourceId)))
    )
    return { resourceId, answer: answer.sdp, mediaSessionId: answer.mediaSessionId }
  })

  const stop = Effect.fn("WhipIngest.stop")(function*(streamName: string, resourceId: string) {
    const entry = sessions.get(resourceId)
    if (entry === undefined || entry.session.offer.streamName !== streamName) {
      return yield* new WhipSessionNotFound({ reason: `no WHIP session ${resourceId} of stream ${streamName}` })
    }
    entry.session.end({ failed: false, message: "the client ended the session (WHIP DELETE)" })
    const exit = yield* Fiber.await(entry.fiber).pipe(Effect.timeoutOption(stopTimeout))
    if (exit._tag === "None") {
      yield* Effect.logWarning(`WHIP ${streamName}: the session still closes after ${Duration.format(stopTimeout)}`)
    }
  })

  return WhipIngest.of({
    publish,
    stop,
    list: Effect.sync(() => Array.from(sessions.values(), ({ session }) => session.view()))
  })
})
