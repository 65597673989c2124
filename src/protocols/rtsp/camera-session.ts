/**
 * One RTSP session with a camera (RFC 2326 10): OPTIONS, DESCRIBE, SETUP of each media we pull (RTP interleaved
 * over the connection first, UDP when the camera refuses that, 461 included), PLAY, then keep-alives every half
 * Session timeout. Closing the scope sends TEARDOWN and closes the sockets.
 */
import * as dns from "node:dns"
import * as net from "node:net"
import { Clock, Duration, Effect } from "effect"
import type { MediaReceiver } from "./media-receiver.ts"
import { chooseMedia, type PullMedia } from "./pull-media.ts"
import { openRtspConnection, type RtspConnection, type RtspConnectionOptions } from "./rtsp-connection.ts"
import { type CameraError, cameraError } from "./rtsp-errors.ts"
import {
  parsePublic,
  parseRtpInfo,
  parseSession,
  parseTransport,
  type RtpInfo,
  type SessionHeader,
  tcpTransport,
  udpTransport
} from "./rtsp-headers.ts"
import { headerValue, type RtspResponse } from "./rtsp-message.ts"
import { resolveControl, type RtspUri, sameControl } from "./rtsp-uri.ts"
import { parseSdp } from "./sdp.ts"
import { bindUdpPortPair, type UdpPortOptions, type UdpPortPair } from "./udp-port-pair.ts"

export type TransportChoice = "auto" | "tcp" | "udp"

export interface CameraSessionOptions extends RtspConnectionOptions {
  /** "auto": interleaved TCP, then UDP if the camera refuses it. */
  readonly transport: TransportChoice
  readonly udp: UdpPortOptions
  /** Overrides the keep-alive period (default: half the Session timeout). */
  readonly keepAliveInterval?: Duration.Input | undefined
}

export interface CameraHooks<E> {
  /** After SETUP, before PLAY: the receivers for the media set up, in the same order. */
  readonly attach: (
    media: ReadonlyArray<PullMedia>,
    transport: "tcp" | "udp"
  ) => Effect.Effect<ReadonlyArray<MediaReceiver>, E>
  /** PLAY answered: each receiver's RTP-Info rtptime, if the camera gave one. */
  readonly played: (anchors: ReadonlyMap<MediaReceiver, number | undefined>, nowMs: number) => void
  /** Something wrong with a datagram (from an address that is not the camera's), to be counted. */
  readonly problem: (problem: string) => void
}

export interface PlayingCamera {
  readonly transport: "tcp" | "udp"
  readonly media: ReadonlyArray<PullMedia>
  /** Why media of the SDP were left out. */
  readonly skipped: ReadonlyArray<string>
  /** Fails when the connection to the camera ends. */
  readonly ended: Effect.Effect<never, CameraError>
}

/** How long closing waits for the camera to answer TEARDOWN. */
const TEARDOWN_WAIT = Duration.seconds(1)

const ok = (response: RtspResponse): boolean => response.status >= 200 && response.status < 300

/** The failure an answer that is not 2xx stands for; `uri` tells whether we had credentials to offer. */
const answered = (uri: RtspUri, method: string, response: RtspResponse): CameraError => {
  const camera = `camera ${uri.redacted}`
  const status = `${response.status} ${response.reason}`.trim()
  if (response.status === 401) {
    return uri.credentials === undefined
      ? cameraError("Unauthorized", `${camera} requires credentials, and the URI has none (${status})`)
      : cameraError("Unauthorized", `${camera} refused the credentials (${status})`)
  }
  if (response.status === 404) return cameraError("NotFound", `${camera} has no such stream (${status})`)
  return cameraError("Protocol", `${camera} answered ${method} with ${status}`)
}

const lookup = (host: string): Effect.Effect<string> =>
  net.isIP(host) !== 0
    ? Effect.succeed(host)
    : Effect.callback<string>((resume) =>
      dns.lookup(host, (error, address) => resume(Effect.succeed(error ? host : address)))
    )

/** The RTP-Info entry of a stream: by URL, else by position when the camera lists every stream. */
const anchorOf = (
  infos: ReadonlyArray<RtpInfo>,
  media: ReadonlyArray<PullMedia>,
  index: number
): number | undefined => {
  const control = media[index]!.control
  const byUrl = infos.find((info) => sameControl(info.url, control) || control.endsWith(`/${info.url}`))
  return (byUrl ?? (infos.length === media.length ? infos[index] : undefined))?.rtptime
}

interface SetUp {
  readonly transport: "tcp" | "udp"
  readonly session: SessionHeader
  /** Per media: the interleaved RTP channel (TCP) or the bound port pair (UDP). */
  readonly channels: ReadonlyArray<number>
  readonly pairs: ReadonlyArray<UdpPortPair>
  /** Where RTP comes from over UDP (Transport source, else the camera's address). */
  readonly source: string | undefined
}

const setupAll = Effect.fn("RtspCamera.setup")(function*(
  connection: RtspConnection,
  media: ReadonlyArray<PullMedia>,
  options: CameraSessionOptions
) {
  const camera = `camera ${connection.uri.redacted}`
  let transport: "tcp" | "udp" = options.transport === "udp" ? "udp" : "tcp"
  let session: SessionHeader | undefined
  let source: string | undefined
  const channels: Array<number> = []
  const pairs: Array<UdpPortPair> = []
  for (let i = 0; i < media.length; i++) {
    const control = media[i]!.control
    const sessionHeader: Array<readonly [string, string]> = session === undefined ? [] : [["Session", session.id]]
    let response: RtspResponse | undefined
    if (transport === "tcp") {
      response = yield* connection.request("SETUP", control, [["Transport", tcpTransport(2 * i)], ...sessionHeader])
      if (!ok(response) && i === 0 && options.transport === "auto" && response.status !== 401) {
        yield* Effect.logInfo(`${camera} refused RTP over TCP (${response.status} ${response.reason}); using UDP`)
        transport = "udp"
        response = undefined
      }
    }
    if (transport === "udp") {
      const pair = yield* bindUdpPortPair(options.udp)
      pairs.push(pair)
      const transportHeader = ["Transport", udpTransport(pair.rtpPort)] as const
      response = yield* connection.request("SETUP", control, [transportHeader, ...sessionHeader])
    }
    if (!ok(response!)) return yield* answered(connection.uri, "SETUP", response!)
    const answer = parseTransport(headerValue(response!.headers, "Transport") ?? "")
    if (transport === "tcp") channels.push(answer.interleaved?.[0] ?? 2 * i)
    else source ??= answer.source
    const sessionValue = headerValue(response!.headers, "Session")
    session ??= sessionValue === undefined ? undefined : parseSession(sessionValue)
    if (session === undefined) return yield* cameraError("Protocol", `${camera} answered SETUP without a Session`)
  }
  return { transport, session: session!, channels, pairs, source } satisfies SetUp
})

/** Runs the session up to PLAY and leaves keep-alives running in the scope; the scope's end tears it down. */
export const playCamera = Effect.fn("RtspCamera.play")(function*<E>(
  uri: RtspUri,
  options: CameraSessionOptions,
  hooks: CameraHooks<E>
) {
  const camera = `camera ${uri.redacted}`
  const clock = yield* Clock.Clock
  const connection = yield* openRtspConnection(uri, options)

  const optionsAnswer = yield* connection.request("OPTIONS", uri.redacted)
  if (optionsAnswer.status === 401) return yield* answered(uri, "OPTIONS", optionsAnswer)
  const methods = ok(optionsAnswer) ? parsePublic(headerValue(optionsAnswer.headers, "Public") ?? "") : new Set<string>()

  const described = yield* connection.request("DESCRIBE", uri.redacted, [["Accept", "application/sdp"]])
  if (!ok(described)) return yield* answered(uri, "DESCRIBE", described)
  const sdp = parseSdp(Buffer.from(described.body).toString("utf8"))
  const base = headerValue(described.headers, "Content-Base") ?? headerValue(described.headers, "Content-Location") ??
    uri.redacted
  const { media, skipped } = chooseMedia(sdp, base)
  if (media.length === 0) {
    const why = skipped.length === 0 ? "no media in its SDP" : skipped.join("; ")
    return yield* cameraError("Unsupported", `${camera} offers nothing we can pull: ${why}`)
  }
  const aggregate = resolveControl(base, sdp.control)

  const setUp = yield* setupAll(connection, media, options)
  const sessionHeader = ["Session", setUp.session.id] as const
  // The answer is awaited (briefly) so that the camera has taken the TEARDOWN before the socket closes.
  yield* Effect.addFinalizer(() =>
    connection.isEnded()
      ? Effect.void
      : connection.request("TEARDOWN", aggregate, [sessionHeader]).pipe(Effect.timeout(TEARDOWN_WAIT), Effect.ignore)
  )

  const receivers = yield* hooks.attach(media, setUp.transport)
  if (setUp.transport === "tcp") {
    const byChannel = new Map<number, MediaReceiver>()
    setUp.channels.forEach((channel, i) => byChannel.set(channel, receivers[i]!))
    connection.onInterleaved = (channel, data, nowMs) => {
      const receiver = byChannel.get(channel & ~1)
      if (receiver === undefined) return
      if ((channel & 1) === 0) receiver.rtp(data, nowMs)
      else receiver.rtcp(data)
    }
  } else {
    const source = yield* lookup(setUp.source ?? uri.host)
    setUp.pairs.forEach((pair, i) => {
      const receiver = receivers[i]!
      pair.listen({
        source,
        rtp: (data) => receiver.rtp(data, clock.currentTimeMillisUnsafe()),
        rtcp: (data) => receiver.rtcp(data),
        problem: hooks.problem
      })
    })
  }

  const played = yield* connection.request("PLAY", aggregate, [sessionHeader, ["Range", "npt=0.000-"]])
  if (!ok(played)) return yield* answered(uri, "PLAY", played)
  const infos = parseRtpInfo(headerValue(played.headers, "RTP-Info") ?? "")
  const anchors = new Map(receivers.map((receiver, i) => [receiver, anchorOf(infos, media, i)] as const))
  hooks.played(anchors, clock.currentTimeMillisUnsafe())

  const keepAlive = methods.has("GET_PARAMETER") ? "GET_PARAMETER" : "OPTIONS"
  const interval = options.keepAliveInterval ?? Duration.seconds(Math.max(1, setUp.session.timeoutSeconds / 2))
  yield* connection.request(keepAlive, aggregate, [sessionHeader]).pipe(
    Effect.tapError((error) => Effect.logDebug(`${camera}: keep-alive ${keepAlive} failed: ${error.reason}`)),
    Effect.ignore,
    Effect.delay(interval),
    Effect.forever,
    Effect.forkScoped
  )
  return { transport: setUp.transport, media, skipped, ended: connection.ended } satisfies PlayingCamera
})
