/**
 * One WHIP publication (RFC 9725 4.2): a werift peer connection that answers the client's offer, opens a publication
 * through the Publisher port, feeds it the received tracks, and lives until the client deletes the session, the
 * connection fails or goes quiet, or the server stops. Everything it holds is released in its scope, the publication
 * (flushed, then closed with the reason) before the peer connection.
 */
import type { MediaStreamTrack, RTCPeerConnection, RTCRtpTransceiver } from "werift"
import { Cause, Clock, Deferred, Duration, Effect, Exit } from "effect"
import type { TrackKind } from "../../media/frame.ts"
import type { Publisher, PublishRequest } from "../../media/publisher.ts"
import { AvSync } from "./av-sync.ts"
import { checkOffer } from "./offer-codecs.ts"
import { allowedAddress, createPeer, gatheringComplete } from "./peer-connection.ts"
import { RemoteTracks } from "./remote-tracks.ts"
import { keepCandidates } from "./sdp-candidates.ts"
import { WhipBadOffer, WhipConflict, WhipFailure, type WhipPublishError, WhipUnsupportedOffer } from "./whip-errors.ts"
import type { EndReason, WhipAnswer, WhipSession, WhipSessionSettings } from "./whip-session-state.ts"

/** How often the watchdog looks at timeouts, the sync hold and the periodic key frame request. */
const WATCH_INTERVAL = Duration.millis(500)
/** Malformed input is logged at most this often per session, as one line with a count. */
const PROBLEM_LOG_MS = 10_000

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** The kinds of the sections werift accepted to receive, each once. */
const receivingKinds = (peer: RTCPeerConnection): Array<TrackKind> => {
  const kinds: Array<TrackKind> = []
  for (const transceiver of peer.getTransceivers()) {
    const kind = transceiver.kind
    if (kind !== "audio" && kind !== "video") continue
    if (transceiver.codecs.length === 0 || transceiver.rejected || transceiver.stopped) continue
    if (!kinds.includes(kind)) kinds.push(kind)
  }
  return kinds
}

const closePeer = (peer: RTCPeerConnection) =>
  Effect.promise(() => peer.close()).pipe(Effect.timeoutOption(Duration.seconds(5)), Effect.ignore)

/** Why the publication closes: the session's own end reason, else how its fiber ended. */
const closeReason = (session: WhipSession, exit: Exit.Exit<unknown, unknown>): EndReason => {
  if (session.endReason !== undefined) return session.endReason
  if (Exit.isSuccess(exit)) return { failed: false, message: "session ended" }
  if (Cause.hasInterruptsOnly(exit.cause)) return { failed: false, message: "server stopped" }
  return { failed: true, message: `session failed: ${describe(Cause.squash(exit.cause))}` }
}

/** The first timeout the session has run into at `now`, if any. */
const timedOut = (session: WhipSession, settings: WhipSessionSettings, now: number, answeredAt: number) => {
  const seconds = (ms: number) => `${ms / 1000} s`
  if (session.connectedAtMs === undefined) {
    return now - answeredAt > settings.connectTimeoutMs
      ? { failed: true, message: `ICE/DTLS did not connect within ${seconds(settings.connectTimeoutMs)}` }
      : undefined
  }
  if (session.disconnectedAtMs !== undefined) {
    return now - session.disconnectedAtMs > settings.disconnectTimeoutMs
      ? { failed: true, message: `ICE disconnected for ${seconds(settings.disconnectTimeoutMs)}` }
      : undefined
  }
  const lastPacket = session.tracks?.lastPacketMs ?? session.connectedAtMs
  return now - lastPacket > settings.idleTimeoutMs
    ? { failed: true, message: `no media for ${seconds(settings.idleTimeoutMs)}` }
    : undefined
}

const watchdog = Effect.fn("WhipSession.watchdog")(function*(
  session: WhipSession,
  settings: WhipSessionSettings,
  answeredAt: number
) {
  const clock = yield* Clock.Clock
  let lastFir = answeredAt
  let lastLog = answeredAt
  let logged = 0
  for (;;) {
    yield* Effect.sleep(WATCH_INTERVAL)
    const now = clock.currentTimeMillisUnsafe()
    session.sync?.tick(now)
    const reason = timedOut(session, settings, now, answeredAt)
    if (reason !== undefined) return reason
    if (settings.periodicFirRequest && now - lastFir >= settings.firPeriodMs) {
      lastFir = now
      session.tracks?.requestKeyframe("periodic")
    }
    if (session.problems > logged && now - lastLog >= PROBLEM_LOG_MS) {
      const { streamName, remoteAddress } = session.offer
      yield* Effect.logWarning(
        `WHIP ${streamName} from ${remoteAddress}: ${session.problems - logged} malformed packets or frames dropped; ` +
          `last: ${session.lastProblem}`
      )
      logged = session.problems
      lastLog = now
    }
  }
})

const negotiateAndRun = Effect.fn("WhipSession.run")(function*(
  session: WhipSession,
  settings: WhipSessionSettings,
  publisher: Publisher["Service"],
  answered: Deferred.Deferred<WhipAnswer, WhipPublishError>
) {
  const clock = yield* Clock.Clock
  const now = () => clock.currentTimeMillisUnsafe()
  const { offer } = session
  const checked = checkOffer(offer.sdp)
  if (checked._tag === "Malformed") return yield* new WhipBadOffer({ reason: checked.reason })
  if (checked._tag === "Unsupported") return yield* new WhipUnsupportedOffer({ reason: checked.reason })

  const peer = yield* Effect.acquireRelease(Effect.sync(() => createPeer(settings)), closePeer)
  // werift announces the remote tracks while it applies the offer, before the publication exists to take them.
  const early: Array<readonly [MediaStreamTrack, RTCRtpTransceiver]> = []
  peer.onTransceiverAdded.subscribe((transceiver) => {
    transceiver.onTrack.subscribe((track) => {
      if (session.tracks === undefined) early.push([track, transceiver])
      else session.tracks.attach(track, transceiver)
    })
  })
  peer.connectionStateChange.subscribe((state) => {
    session.connectionState = state
    if (state === "connected") {
      session.connectedAtMs ??= now()
      session.disconnectedAtMs = undefined
      session.tracks?.connected()
    } else if (state === "disconnected") {
      session.disconnectedAtMs ??= now()
    } else if (state === "failed") {
      session.end({ failed: true, message: "ICE or DTLS failed" })
    } else if (state === "closed") {
      session.end({ failed: false, message: "the peer closed the connection" })
    }
  })
  yield* Effect.tryPromise({
    try: () => peer.setRemoteDescription({ type: "offer", sdp: checked.sdp }),
    catch: (error) => new WhipBadOffer({ reason: `the offer cannot be applied: ${describe(error)}` })
  })
  const kinds = receivingKinds(peer)
  if (kinds.length === 0) {
    return yield* new WhipUnsupportedOffer({ reason: "no audio or video section of the offer could be negotiated" })
  }

  const request: PublishRequest = {
    protocol: "WEBRTC",
    streamName: offer.streamName,
    app: "whip",
    query: offer.query,
    remoteAddress: offer.remoteAddress,
    record: offer.record,
    requestKeyframe: () => session.tracks?.requestKeyframe("session")
  }
  const publication = yield* publisher.open(request).pipe(
    Effect.mapError((rejected) => new WhipConflict({ reason: rejected.reason }))
  )
  session.mediaSessionId = publication.mediaSessionId
  const sync = new AvSync({ kinds, sink: publication, holdMs: settings.syncHoldMs })
  const tracks = new RemoteTracks({
    sync,
    now,
    onProblem: (reason) => session.problem(reason),
    onCrash: (reason) => session.end({ failed: true, message: reason })
  })
  session.sync = sync
  session.tracks = tracks
  yield* Effect.addFinalizer((exit) =>
    Effect.suspend(() => {
      tracks.stop()
      sync.flush()
      return publication.close(closeReason(session, exit))
    })
  )
  for (const [track, transceiver] of early.splice(0)) tracks.attach(track, transceiver)

  const failure = (step: string) => (error: unknown) => new WhipFailure({ reason: `${step}: ${describe(error)}` })
  const description = yield* Effect.tryPromise({ try: () => peer.createAnswer(), catch: failure("createAnswer") })
  yield* Effect.tryPromise({ try: () => peer.setLocalDescription(description), catch: failure("setLocalDescription") })
  yield* Effect.promise(() => gatheringComplete(peer)).pipe(
    Effect.timeoutOrElse({
      duration: Duration.seconds(10),
      orElse: () => Effect.fail(new WhipFailure({ reason: "ICE candidate gathering did not complete within 10 s" }))
    })
  )
  // werift does not turn the peer's DTLS close_notify (RTCPeerConnection.close() in a browser) into a connection
  // state: watch the transport itself, so a peer that leaves without DELETE ends the session at once.
  for (const transport of new Set(peer.getTransceivers().map((transceiver) => transceiver.dtlsTransport))) {
    transport.onStateChange.subscribe((state) => {
      if (state === "closed") session.end({ failed: false, message: "the peer closed the connection" })
    })
  }
  const local = peer.localDescription?.sdp ?? description.sdp
  const answeredAt = now()
  const sdp = keepCandidates(local, allowedAddress(settings))
  yield* Deferred.succeed(answered, { sdp, mediaSessionId: publication.mediaSessionId })
  yield* Effect.logInfo(`WHIP publish ${offer.streamName} from ${offer.remoteAddress} (${kinds.join(" + ")})`)

  const reason = yield* Effect.raceFirst(Deferred.await(session.ended), watchdog(session, settings, answeredAt))
  session.end(reason)
  yield* Effect.logInfo(`WHIP publish ${offer.streamName} ended: ${reason.message}`)
})

/**
 * Runs one session to its end. `answered` gets the SDP answer once it is ready, or the reason there is none; the
 * effect itself never fails, so it fits a FiberMap.
 */
export const runWhipSession = (
  session: WhipSession,
  settings: WhipSessionSettings,
  publisher: Publisher["Service"],
  answered: Deferred.Deferred<WhipAnswer, WhipPublishError>
): Effect.Effect<void> =>
  Effect.scoped(negotiateAndRun(session, settings, publisher, answered)).pipe(
    Effect.catch((error) => Deferred.fail(answered, error)),
    Effect.catchDefect((defect) =>
      Effect.logError(`WHIP session ${session.offer.resourceId} crashed: ${describe(defect)}`).pipe(
        Effect.andThen(Deferred.fail(answered, new WhipFailure({ reason: `internal error: ${describe(defect)}` })))
      )
    ),
    // Interrupted before answering (the server stops): the POST still gets an answer.
    Effect.ensuring(Deferred.fail(answered, new WhipFailure({ reason: "the server stopped before answering" }))),
    Effect.asVoid
  )
