/**
 * The RTSP control connection to one camera (RFC 2326 over TCP): sends requests with their CSeq, matches responses
 * back, answers one authentication challenge per request (credentials from the URI, never logged), and hands the
 * interleaved `$` frames that arrive between responses to a synchronous callback. Ends with a CameraError.
 */
import { NodeSocket } from "@effect/platform-node"
import { Cause, Clock, Deferred, Duration, Effect, Option } from "effect"
import * as Socket from "effect/socket/Socket"
import { authorization, type Challenge, makeCnonce, parseChallenges, pickChallenge } from "./rtsp-auth.ts"
import { type CameraError, cameraError } from "./rtsp-errors.ts"
import { headerValue, headerValues, type RtspHeaders, type RtspResponse, serializeRequest } from "./rtsp-message.ts"
import { RtspReader } from "./rtsp-reader.ts"
import type { RtspUri } from "./rtsp-uri.ts"

export interface RtspConnectionOptions {
  /** How long the TCP connect may take. */
  readonly connectTimeout: Duration.Input
  /** How long a request may wait for its answer. */
  readonly requestTimeout: Duration.Input
  readonly userAgent: string
}

export interface RtspConnection {
  readonly uri: RtspUri
  /** Sends a request and waits for its answer; a 401 with a challenge we can answer is retried once. */
  readonly request: (
    method: string,
    url: string,
    headers?: RtspHeaders
  ) => Effect.Effect<RtspResponse, CameraError>
  /** Receives every interleaved frame, synchronously, with the wall-clock time of its chunk. */
  onInterleaved: (channel: number, data: Uint8Array, nowMs: number) => void
  /** Fails when the connection ends: closed by the camera, lost, or a stream we cannot parse. */
  readonly ended: Effect.Effect<never, CameraError>
  readonly isEnded: () => boolean
}

const seconds = (duration: Duration.Input): string => Duration.format(Duration.fromInputUnsafe(duration))

/** Turns a socket failure into words about the camera, e.g. "connection refused". */
const describeSocketError = (error: Socket.SocketError): string => {
  const reason = error.reason
  const cause = "cause" in reason ? reason.cause : undefined
  const code = cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused"
    case "ECONNRESET":
    case "EPIPE":
      return "connection reset"
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found"
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable"
    case "ETIMEDOUT":
      return "connection timed out"
  }
  if (reason._tag === "SocketCloseError") return "connection closed by the camera"
  return cause instanceof Error ? cause.message : reason.message
}

export const openRtspConnection = Effect.fn("RtspConnection.open")(function*(
  uri: RtspUri,
  options: RtspConnectionOptions
) {
  const camera = `camera ${uri.redacted}`
  const clock = yield* Clock.Clock
  const socket = yield* NodeSocket.makeNet({ host: uri.host, port: uri.port, openTimeout: options.connectTimeout })
  const pull = yield* Socket.readerBytes(socket).pipe(
    Effect.mapError((error) =>
      error.reason._tag === "SocketOpenError" && error.reason.kind === "Timeout"
        ? cameraError("Timeout", `${camera} unreachable: no connection within ${seconds(options.connectTimeout)}`)
        : cameraError("Unreachable", `${camera} unreachable: ${describeSocketError(error)}`)
    )
  )
  const writer = yield* socket.writer
  const reader = new RtspReader()
  const pending = new Map<number, Deferred.Deferred<RtspResponse, CameraError>>()
  const ended = yield* Deferred.make<never, CameraError>()
  let cseq = 0
  let challenge: Challenge | undefined
  let nonceCount = 0

  const write = (bytes: Uint8Array) =>
    writer.write(bytes).pipe(
      Effect.mapError((error) => cameraError("Dropped", `${camera}: ${describeSocketError(error)}`))
    )

  const connection: RtspConnection = {
    uri,
    onInterleaved: () => {},
    request: (method, url, headers = []) => request(method, url, headers),
    ended: Deferred.await(ended),
    isEnded: () => Deferred.isDoneUnsafe(ended)
  }

  const build = (url: string, method: string, headers: RtspHeaders): RtspHeaders => {
    const all: Array<readonly [string, string]> = [["CSeq", String(++cseq)], ["User-Agent", options.userAgent]]
    if (challenge !== undefined && uri.credentials !== undefined) {
      nonceCount++
      const input = { method, uri: url, nonceCount, cnonce: makeCnonce() }
      all.push(["Authorization", authorization(uri.credentials, challenge, input)])
    }
    return [...all, ...headers]
  }

  const exchange = (method: string, url: string, headers: RtspHeaders) =>
    Effect.gen(function*() {
      if (Deferred.isDoneUnsafe(ended)) return yield* Deferred.await(ended)
      const all = build(url, method, headers)
      const sequence = cseq
      const answer = yield* Deferred.make<RtspResponse, CameraError>()
      pending.set(sequence, answer)
      yield* write(serializeRequest({ method, uri: url, headers: all }))
      const within = seconds(options.requestTimeout)
      const late = cameraError("Timeout", `${camera} did not answer ${method} within ${within}`)
      return yield* Deferred.await(answer).pipe(
        Effect.timeoutOrElse({ duration: options.requestTimeout, orElse: () => Effect.fail(late) }),
        Effect.ensuring(Effect.sync(() => pending.delete(sequence)))
      )
    })

  const request = Effect.fn("RtspConnection.request")(function*(method: string, url: string, headers: RtspHeaders) {
    const response = yield* exchange(method, url, headers)
    if (response.status !== 401 || uri.credentials === undefined) return response
    const offered = pickChallenge(parseChallenges(headerValues(response.headers, "WWW-Authenticate")))
    if (offered === undefined) return response
    challenge = offered
    nonceCount = 0
    return yield* exchange(method, url, headers)
  })

  /** Takes every whole message out of the reader; returns what must be done after (answers, replies). */
  const dispatch = (nowMs: number): Array<Effect.Effect<unknown, CameraError>> => {
    const effects: Array<Effect.Effect<unknown, CameraError>> = []
    for (let message = reader.next(); message !== undefined; message = reader.next()) {
      switch (message._tag) {
        case "Interleaved":
          connection.onInterleaved(message.channel, message.data, nowMs)
          break
        case "Response": {
          const sequence = Number(headerValue(message.response.headers, "CSeq"))
          const answer = pending.get(sequence) ?? (pending.size === 1 ? [...pending.values()][0] : undefined)
          if (answer !== undefined) effects.push(Deferred.succeed(answer, message.response))
          break
        }
        case "Request": {
          // A server may ask too (OPTIONS as a liveness check); say what we do not implement.
          const status = message.method === "OPTIONS" ? "200 OK" : "501 Not Implemented"
          const cseqOf = headerValue(message.headers, "CSeq") ?? "0"
          effects.push(write(Buffer.from(`RTSP/1.0 ${status}\r\nCSeq: ${cseqOf}\r\n\r\n`, "latin1")))
          break
        }
        case "Malformed":
          effects.push(Effect.fail(cameraError("Protocol", `${camera} sent ${message.problem}`)))
          return effects
      }
    }
    return effects
  }

  const readLoop = Effect.gen(function*() {
    for (;;) {
      const chunks = yield* pull.pipe(
        Effect.mapError((error) => cameraError("Dropped", `${camera}: ${describeSocketError(error)}`))
      )
      for (const chunk of chunks) reader.feed(chunk)
      const effects = dispatch(clock.currentTimeMillisUnsafe())
      for (const effect of effects) yield* effect
    }
  })

  // However reading ends, every waiting request and `ended` fail with why.
  yield* readLoop.pipe(
    Effect.catchCause((cause) => {
      const error = Cause.findErrorOption(cause)
      const failure = Option.isSome(error)
        ? error.value
        : cameraError("Dropped", `${camera}: connection ended`)
      return Effect.forEach(pending.values(), (answer) => Deferred.fail(answer, failure), { discard: true }).pipe(
        Effect.andThen(Deferred.fail(ended, failure))
      )
    }),
    Effect.forkScoped
  )
  yield* Effect.addFinalizer(() =>
    Deferred.fail(ended, cameraError("Dropped", `${camera}: connection closed`)).pipe(Effect.asVoid)
  )
  return connection
})
