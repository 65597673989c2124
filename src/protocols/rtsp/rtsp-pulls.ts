/**
 * The RTSP pull service: pulls live streams from IP cameras (`startup`), publishes each through the Publisher port
 * as protocol "RTSP", lists them and stops them. Each pull is a supervised fiber; when its camera drops after PLAY
 * it reconnects with exponential backoff, forever until terminated, into the same publication with a continuous
 * timeline. One camera's failure never touches another pull.
 */
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, FiberMap, Layer, Option } from "effect"
import type { Publication } from "../../media/publisher.ts"
import { Publisher } from "../../media/publisher.ts"
import type { ReorderOptions } from "../rtp/reorder-buffer.ts"
import { type CameraSessionOptions, playCamera, type TransportChoice } from "./camera-session.ts"
import { PullOutput } from "./pull-output.ts"
import { type CameraError, cameraError, RtspPullNotFound, RtspStartupError } from "./rtsp-errors.ts"
import { isRtspUri, parseRtspUri, type RtspUri } from "./rtsp-uri.ts"

export interface RtspPullOptions {
  /** record_rtsp_streams: whether pulled streams ask for recording. */
  readonly record: boolean
  /** rtsp_transport: "auto" (TCP interleaved, UDP if refused), "tcp" or "udp". Default "auto". */
  readonly transport?: TransportChoice | undefined
  /** rtsp_startup_timeout: connect + DESCRIBE + SETUP + PLAY of `startup`. Default 10 s. */
  readonly startupTimeout?: Duration.Input | undefined
  /** rtsp_request_timeout: how long one RTSP request (and the TCP connect) may take. Default 5 s. */
  readonly requestTimeout?: Duration.Input | undefined
  /** rtsp_rtp_timeout: no RTP for this long after PLAY means the camera dropped. Default 5 s. */
  readonly rtpTimeout?: Duration.Input | undefined
  /** rtsp_reconnect_min_delay / rtsp_reconnect_max_delay: the backoff between reconnects. Default 0.5 s to 10 s. */
  readonly reconnectMinDelay?: Duration.Input | undefined
  readonly reconnectMaxDelay?: Duration.Input | undefined
  /** rtsp_udp_bind_address: where UDP RTP is received. Default "0.0.0.0". */
  readonly udpBindAddress?: string | undefined
  /** rtsp_udp_port_range: even RTP ports are picked from it. Default 20000-29999. */
  readonly udpPortRange?: readonly [number, number] | undefined
  /** rtsp_keep_alive_interval: overrides half the Session timeout. */
  readonly keepAliveInterval?: Duration.Input | undefined
  /** Reorder buffer bounds (UDP). Default 32 packets / 100 ms. */
  readonly reorder?: ReorderOptions | undefined
  readonly userAgent?: string | undefined
}

export interface RtspPullView {
  /** The camera URI without credentials. */
  readonly uri: string
  readonly localStreamName: string
  readonly mediaSessionId: string
  readonly state: "PLAYING" | "RECONNECTING"
  readonly transport: "tcp" | "udp"
  /** RTP packets received, lost (sequence gaps given up) and malformed, over every connection. */
  readonly packets: number
  readonly lost: number
  readonly errors: number
}

export interface RtspStartupRequest {
  readonly uri: string
  readonly localStreamName: string
}

export class RtspPulls extends Context.Service<RtspPulls, {
  /** Connects and plays the camera, then answers; pulls on (reconnecting) until terminated. */
  readonly startup: (
    request: RtspStartupRequest
  ) => Effect.Effect<{ readonly mediaSessionId: string }, RtspStartupError>
  readonly list: () => Effect.Effect<ReadonlyArray<RtspPullView>>
  /** Stops the pull of `uri` (with or without credentials): TEARDOWN, and its publication ends. */
  readonly terminate: (uri: string) => Effect.Effect<void, RtspPullNotFound>
}>()("capstan/protocols/rtsp/RtspPulls") {
  static readonly layer = (options: RtspPullOptions): Layer.Layer<RtspPulls, never, Publisher> =>
    Layer.effect(RtspPulls, make(options))
}

interface Pull {
  readonly key: string
  readonly uri: RtspUri
  readonly localStreamName: string
  state: "STARTING" | "PLAYING" | "RECONNECTING"
  transport: "tcp" | "udp"
  publication: Publication | undefined
  output: PullOutput | undefined
}

/** Malformed packets are logged at most this often per pull. */
const PROBLEM_LOG_PERIOD = Duration.seconds(10)
const WATCHDOG_PERIOD = Duration.millis(250)

const toStartupError = (error: CameraError | RtspStartupError): RtspStartupError =>
  error instanceof RtspStartupError ? error : new RtspStartupError({ kind: error.kind, reason: error.reason })

/** Why a connection ended; a defect (a bug of ours) reads as an internal error of that camera's pull. */
const failureOf = (uri: RtspUri, exit: Exit.Exit<unknown, CameraError | RtspStartupError>) => {
  if (Exit.isSuccess(exit)) return cameraError("Dropped", `camera ${uri.redacted}: connection ended`)
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isSome(error)) return error.value
  return cameraError("Protocol", `camera ${uri.redacted}: internal error: ${String(Cause.squash(exit.cause))}`)
}

export const make = Effect.fn("RtspPulls.make")(function*(options: RtspPullOptions) {
  const publisher = yield* Publisher
  const clock = yield* Clock.Clock
  const fibers = yield* FiberMap.make<string>()
  const pulls = new Map<string, Pull>()
  const startupTimeout = options.startupTimeout ?? Duration.seconds(10)
  const rtpTimeoutMs = Duration.toMillis(options.rtpTimeout ?? Duration.seconds(5))
  const minDelay = Duration.toMillis(options.reconnectMinDelay ?? Duration.millis(500))
  const maxDelay = Duration.toMillis(options.reconnectMaxDelay ?? Duration.seconds(10))
  const session: CameraSessionOptions = {
    transport: options.transport ?? "auto",
    connectTimeout: options.requestTimeout ?? Duration.seconds(5),
    requestTimeout: options.requestTimeout ?? Duration.seconds(5),
    userAgent: options.userAgent ?? "Capstan",
    keepAliveInterval: options.keepAliveInterval,
    udp: { address: options.udpBindAddress ?? "0.0.0.0", portRange: options.udpPortRange ?? [20000, 29999] }
  }

  const label = (pull: Pull) => `RTSP pull of ${pull.uri.redacted} as ${pull.localStreamName}`

  /** The publication, opened on the first connection that reaches SETUP; later connections reuse it. */
  const outputFor = (pull: Pull) =>
    Effect.gen(function*() {
      if (pull.output !== undefined) return pull.output
      const publication = yield* publisher.open({
        protocol: "RTSP",
        streamName: pull.localStreamName,
        app: "",
        query: {},
        remoteAddress: `${pull.uri.host}:${pull.uri.port}`,
        record: options.record
      }).pipe(Effect.mapError(({ reason }) =>
        new RtspStartupError({ kind: "Rejected", reason: `stream ${pull.localStreamName} rejected: ${reason}` })
      ))
      pull.publication = publication
      pull.output = new PullOutput(publication)
      return pull.output
    })

  const logProblems = (pull: Pull) =>
    Effect.suspend(() => {
      const report = pull.output?.takeProblems()
      return report === undefined
        ? Effect.void
        : Effect.logWarning(`${label(pull)}: dropped ${report.count} malformed packet(s); last: ${report.last}`)
    }).pipe(Effect.delay(PROBLEM_LOG_PERIOD), Effect.forever)

  const watchdog = (pull: Pull) =>
    Effect.gen(function*() {
      for (;;) {
        yield* Effect.sleep(WATCHDOG_PERIOD)
        const silent = clock.currentTimeMillisUnsafe() - (pull.output?.lastPacketAt ?? 0)
        if (silent > rtpTimeoutMs) {
          return yield* cameraError("Dropped", `camera ${pull.uri.redacted} sent no RTP for ${silent} ms`)
        }
      }
    })

  /** One connection: up to PLAY, then `onPlaying`, then until the camera drops. Ends only by failing. */
  const connection = (pull: Pull, onPlaying: Effect.Effect<void>) =>
    Effect.scoped(Effect.gen(function*() {
      const playing = yield* playCamera(pull.uri, session, {
        attach: (media, transport) =>
          Effect.map(outputFor(pull), (output) => {
            pull.transport = transport
            return output.beginSegment(media, clock.currentTimeMillisUnsafe(), options.reorder)
          }),
        played: (anchors, nowMs) => pull.output?.play(anchors, nowMs),
        problem: (problem) => pull.output?.problem(problem)
      })
      if (playing.skipped.length > 0) yield* Effect.logInfo(`${label(pull)}: left out ${playing.skipped.join("; ")}`)
      yield* onPlaying
      yield* Effect.forkScoped(logProblems(pull))
      return yield* Effect.raceFirst(playing.ended, watchdog(pull))
    })).pipe(Effect.ensuring(Effect.sync(() => pull.output?.endSegment())))

  const reconnectForever = (pull: Pull, firstDrop: CameraError | RtspStartupError) =>
    Effect.gen(function*() {
      let delay = minDelay
      let reason = firstDrop.reason
      yield* Effect.logWarning(`${label(pull)}: ${reason}; reconnecting`)
      for (;;) {
        pull.state = "RECONNECTING"
        yield* Effect.sleep(Duration.millis(delay))
        let reached = false
        const onPlaying = Effect.suspend(() => {
          reached = true
          pull.state = "PLAYING"
          return Effect.logInfo(`${label(pull)}: reconnected over ${pull.transport}`)
        })
        const next = failureOf(pull.uri, yield* Effect.exit(connection(pull, onPlaying))).reason
        delay = reached ? minDelay : Math.min(delay * 2, maxDelay)
        // One line per change of reason, not one per attempt, while a camera stays away.
        if (reached || next !== reason) yield* Effect.logWarning(`${label(pull)}: ${next}; reconnecting`)
        reason = next
      }
    })

  const run = (pull: Pull, ready: Deferred.Deferred<string, RtspStartupError>) =>
    Effect.gen(function*() {
      const onPlaying = Effect.suspend(() => {
        pull.state = "PLAYING"
        return Deferred.succeed(ready, pull.output!.mediaSessionId).pipe(
          Effect.andThen(Effect.logInfo(`${label(pull)}: playing over ${pull.transport}`))
        )
      })
      const first = failureOf(pull.uri, yield* Effect.exit(connection(pull, onPlaying)))
      if (!Deferred.isDoneUnsafe(ready)) {
        yield* Deferred.fail(ready, toStartupError(first))
        return yield* first
      }
      return yield* reconnectForever(pull, first)
    }).pipe(
      Effect.onExit((exit) => {
        if (pulls.get(pull.key) === pull) pulls.delete(pull.key)
        const publication = pull.publication
        if (publication === undefined) return Effect.void
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
        const reason = Option.isSome(error)
          ? { failed: true, message: error.value.reason }
          : { failed: false, message: "RTSP pull terminated" }
        const ended = Effect.logInfo(`${label(pull)}: ended: ${reason.message}`)
        return publication.close(reason).pipe(Effect.andThen(ended))
      }),
      Effect.ignore
    )

  const startup = Effect.fn("RtspPulls.startup")(function*(request: RtspStartupRequest) {
    const uri = parseRtspUri(request.uri)
    if (!isRtspUri(uri)) {
      return yield* new RtspStartupError({ kind: "InvalidUri", reason: `not an rtsp:// camera URI: ${uri.problem}` })
    }
    if (pulls.has(uri.redacted)) {
      return yield* new RtspStartupError({ kind: "AlreadyPulled", reason: `${uri.redacted} is already pulled` })
    }
    const named = [...pulls.values()].find((pull) => pull.localStreamName === request.localStreamName)
    if (named !== undefined) {
      return yield* new RtspStartupError({
        kind: "AlreadyPulled",
        reason: `stream name ${request.localStreamName} is already pulled from ${named.uri.redacted}`
      })
    }
    const pull: Pull = {
      key: uri.redacted,
      uri,
      localStreamName: request.localStreamName,
      state: "STARTING",
      transport: "tcp",
      publication: undefined,
      output: undefined
    }
    pulls.set(pull.key, pull)
    const ready = yield* Deferred.make<string, RtspStartupError>()
    yield* FiberMap.run(fibers, pull.key)(run(pull, ready))
    const within = Duration.format(Duration.fromInputUnsafe(startupTimeout))
    const reason = `camera ${uri.redacted} did not start playing within ${within}`
    const late = new RtspStartupError({ kind: "Timeout", reason })
    const mediaSessionId = yield* Deferred.await(ready).pipe(
      Effect.timeoutOrElse({ duration: startupTimeout, orElse: () => Effect.fail(late) }),
      Effect.tapError(() => FiberMap.remove(fibers, pull.key))
    )
    return { mediaSessionId }
  })

  const list = () =>
    Effect.sync(() =>
      [...pulls.values()].flatMap((pull): Array<RtspPullView> =>
        pull.state === "STARTING" || pull.output === undefined ? [] : [{
          uri: pull.uri.redacted,
          localStreamName: pull.localStreamName,
          mediaSessionId: pull.output.mediaSessionId,
          state: pull.state,
          transport: pull.transport,
          packets: pull.output.packets,
          lost: pull.output.lost,
          errors: pull.output.errors
        }]
      )
    )

  const terminate = Effect.fn("RtspPulls.terminate")(function*(uri: string) {
    const parsed = parseRtspUri(uri)
    // An unparsable URI is not echoed back: it may hold credentials.
    const key = isRtspUri(parsed) ? parsed.redacted : undefined
    if (key === undefined || !pulls.has(key)) {
      return yield* new RtspPullNotFound({ reason: `no RTSP pull of ${key ?? "that URI"}` })
    }
    yield* FiberMap.remove(fibers, key)
  })

  return RtspPulls.of({ startup, list, terminate })
})
