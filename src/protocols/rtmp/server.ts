/**
 * The RTMP ingest server: a TCP listener (effect/socket SocketServer on node:net) whose connections each run in
 * their own fiber, drive an RtmpConnection with socket reads, and publish through the Publisher port.
 */
import { NodeSocket, NodeSocketServer } from "@effect/platform-node"
import { Cause, Clock, Context, Duration, Effect, Exit, Layer, Option } from "effect"
import * as Socket from "effect/socket/Socket"
import type { SocketServerError } from "effect/socket/SocketServer"
import type { Publication } from "../../media/publisher.ts"
import { Publisher } from "../../media/publisher.ts"
import { DEFAULT_MAX_MESSAGE_LENGTH } from "./chunk-reader.ts"
import { type ConnectionAction, RtmpConnection } from "./connection.ts"
import { RtmpConnectionError, RtmpProtocolError } from "./protocol-error.ts"

export interface RtmpServerOptions {
  /** Interface to listen on, e.g. "0.0.0.0" or "127.0.0.1". */
  readonly host: string
  /** TCP port; 0 picks a free one (read it back from RtmpServer.port). */
  readonly port: number
  /** Whether publications ask for recording (record_streams && record_flash_published_streams); ?record= overrides. */
  readonly record: boolean
  /** The chunk size we send with, announced after connect. Default 4096. */
  readonly chunkSize?: number
  /** Our Window Acknowledgement Size / Set Peer Bandwidth. Default 2 500 000 bytes. */
  readonly windowAckSize?: number
  /** Messages announcing more bytes close the connection ("absurd message length N"). Default 8 MiB. */
  readonly maxMessageLength?: number
  /** A connection that sends nothing for this long is closed as failed. Default 30 seconds. */
  readonly idleTimeout?: Duration.Input
}

export class RtmpServer extends Context.Service<RtmpServer, {
  readonly host: string
  /** The port actually bound (differs from the option when that was 0). */
  readonly port: number
}>()("capstan/protocols/rtmp/RtmpServer") {
  static readonly layer = (options: RtmpServerOptions): Layer.Layer<RtmpServer, SocketServerError, Publisher> =>
    Layer.effect(RtmpServer, make(options))
}

const toBuffer = (bytes: string | Uint8Array): Buffer =>
  typeof bytes === "string"
    ? Buffer.from(bytes)
    : Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const reasonOf = (error: unknown): string =>
  error instanceof RtmpProtocolError ? error.message : `internal error: ${String(error)}`

const describeSocketError = (error: Socket.SocketError): string => {
  const cause = "cause" in error.reason ? error.reason.cause : undefined
  return cause instanceof Error ? `socket error: ${cause.message}` : `socket error: ${error.reason.message}`
}

/** Serves one accepted socket until the peer leaves, the connection fails, or the server stops. */
const serveConnection = Effect.fn("RtmpServer.connection")(function*(
  socket: Socket.Socket,
  publisher: Publisher["Service"],
  options: Required<RtmpServerOptions>
) {
  const net = yield* Effect.serviceOption(NodeSocket.NetSocket)
  const remoteAddress = Option.match(net, {
    onNone: () => "unknown",
    onSome: (s) => `${s.remoteAddress ?? "unknown"}:${s.remotePort ?? 0}`
  })
  const connection = new RtmpConnection({
    remoteAddress,
    record: options.record,
    chunkSize: options.chunkSize,
    windowAckSize: options.windowAckSize,
    maxMessageLength: options.maxMessageLength
  })
  const fail = (reason: string) => new RtmpConnectionError({ remoteAddress, reason })

  const idle = Duration.format(Duration.fromInputUnsafe(options.idleTimeout))
  const writer = yield* socket.writer
  const flush = Effect.suspend(() => {
    const out = connection.takeOutput()
    return out.length === 0
      ? Effect.void
      : writer.writeAll(out as [Buffer, ...Array<Buffer>]).pipe(Effect.mapError((e) => fail(describeSocketError(e))))
  })
  const drainLogs = Effect.suspend(() => {
    const logs = connection.takeLogs()
    return logs.length === 0 ? Effect.void : Effect.forEach(logs, (log) =>
      Effect.logWithLevel(log.level)(`RTMP ${remoteAddress}: ${log.message}`), { discard: true })
  })
  const describe = (outcome: string) => `RTMP publish of ${connection.streamLabel} from ${remoteAddress} ${outcome}`
  const perform = (action: ConnectionAction): Effect.Effect<void> =>
    action._tag === "Publish"
      ? publisher.open(action.request).pipe(
        Effect.matchEffect({
          onFailure: ({ reason }) =>
            Effect.sync(() => connection.rejected(reason)).pipe(
              Effect.andThen(Effect.logInfo(describe(`rejected: ${reason}`)))
            ),
          onSuccess: (publication) =>
            Effect.sync(() => connection.published(publication)).pipe(
              Effect.andThen(Effect.logInfo(describe("started")))
            )
        })
      )
      : closePublication(connection.publication, { failed: false, message: action.message }).pipe(
        Effect.andThen(Effect.sync(() => connection.unpublished())),
        Effect.andThen(Effect.logInfo(describe(`ended: ${action.message}`)))
      )
  /**
   * Runs the state machine over socket bytes (none to only handle what is queued) and returns the first action it
   * asks for. The per-read hot path: plain code, its protocol errors turned into the connection's error value here.
   */
  const advance = (chunks: ReadonlyArray<string | Uint8Array>): ConnectionAction | RtmpConnectionError | undefined => {
    try {
      for (const chunk of chunks) connection.receive(toBuffer(chunk))
      return connection.next()
    } catch (error) {
      return fail(reasonOf(error))
    }
  }

  // Idle detection by timestamp, checked a few times per timeout, rather than a timer raced against every read.
  const clock = yield* Clock.Clock
  const idleMillis = Duration.toMillis(Duration.fromInputUnsafe(options.idleTimeout))
  let lastRead = clock.currentTimeMillisUnsafe()
  const watchdog = Effect.gen(function*() {
    for (;;) {
      yield* Effect.sleep(Math.max(10, idleMillis / 4))
      if (clock.currentTimeMillisUnsafe() - lastRead >= idleMillis) return yield* fail(`no data for ${idle}`)
    }
  })

  // One fiber step per socket read: the read, then the state machine in plain code. Effects run only when the
  // read produced an action, a reply, a log line or a close; a read of media only pushes frames.
  const readLoop = Effect.gen(function*() {
    const { pull } = yield* socket.reader
    for (;;) {
      const chunks = yield* pull
      lastRead = clock.currentTimeMillisUnsafe()
      let action = advance(chunks)
      if (action === undefined && !connection.hasWork) continue
      while (action !== undefined) {
        if (action instanceof RtmpConnectionError) return yield* action
        yield* flush
        yield* perform(action)
        action = advance([])
      }
      yield* drainLogs
      yield* flush
      if (connection.closeRequested) return
    }
  }).pipe(
    // The peer's FIN (or a close before we got to read) ends the stream; a stop inside a chunk is a failure.
    Effect.catchTag("SocketError", (e) => {
      const endOfStream = e.reason._tag === "SocketCloseError" && e.reason.code === 1000
      const reason = endOfStream ? connection.truncation : describeSocketError(e)
      return reason === undefined ? Effect.void : Effect.fail(fail(reason))
    })
  )
  const loop = Effect.raceFirst(readLoop, watchdog)

  // However the connection ends, an open publication is closed: failed only if the connection failed.
  const closeOnExit = (exit: Exit.Exit<unknown, RtmpConnectionError>) => {
    const publication = connection.publication
    if (publication === undefined) return Effect.void
    if (Exit.isSuccess(exit)) {
      return closePublication(publication, { failed: false, message: "client disconnected" }).pipe(
        Effect.andThen(Effect.logInfo(describe("ended: client disconnected")))
      )
    }
    const error = Cause.findErrorOption(exit.cause)
    const reason = Option.isSome(error)
      ? { failed: true, message: error.value.reason }
      : Cause.hasInterruptsOnly(exit.cause)
      ? { failed: false, message: "server stopped" }
      : { failed: true, message: "internal error" }
    return closePublication(publication, reason)
  }

  yield* loop.pipe(
    Effect.onExit(closeOnExit),
    Effect.catchTag("RtmpConnectionError", (error) => {
      const stream = connection.streamLabel === "" ? "" : ` (stream ${connection.streamLabel})`
      return Effect.logWarning(`RTMP connection from ${error.remoteAddress} failed: ${error.reason}${stream}`)
    }),
    Effect.catchDefect((defect) => Effect.logError(`RTMP connection from ${remoteAddress} crashed: ${String(defect)}`))
  )
})

const closePublication = (
  publication: Publication | undefined,
  reason: { readonly failed: boolean; readonly message: string }
): Effect.Effect<void> => (publication === undefined ? Effect.void : publication.close(reason))

/** Binds the listener and serves connections for as long as the surrounding scope lives. */
export const make = Effect.fn("RtmpServer.make")(function*(options: RtmpServerOptions) {
  const publisher = yield* Publisher
  const resolved: Required<RtmpServerOptions> = {
    host: options.host,
    port: options.port,
    record: options.record,
    chunkSize: options.chunkSize ?? 4096,
    windowAckSize: options.windowAckSize ?? 2_500_000,
    maxMessageLength: options.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH,
    idleTimeout: options.idleTimeout ?? Duration.seconds(30)
  }
  const server = yield* NodeSocketServer.make({ host: options.host, port: options.port })
  yield* server.run((socket) => Effect.scoped(serveConnection(socket, publisher, resolved))).pipe(
    Effect.tapCause((cause) =>
      Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logError("RTMP server stopped accepting connections", cause)
    ),
    Effect.forkScoped
  )
  const port = server.address._tag === "UnixPathAddress" ? options.port : server.address.port
  yield* Effect.logInfo(`RTMP server listening on ${options.host}:${port}`)
  return RtmpServer.of({ host: options.host, port })
})
