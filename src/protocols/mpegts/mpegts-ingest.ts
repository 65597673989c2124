/**
 * The MPEG-TS over UDP ingest: `startup` binds a UDP port for a stream name and publishes at once; whatever
 * transport stream arrives on the port is demuxed into that publication until `terminate`, or until no datagram
 * has come for the timeout. Each stream is a supervised fiber owning its socket; demuxing is plain code per datagram.
 */
import { NodeDatagramSocket } from "@effect/platform-node"
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Fiber, FiberMap, Layer, Option } from "effect"
import { NetAddress } from "effect/net"
import type { DatagramSocket } from "effect/socket"
import { type Publication, Publisher } from "../../media/publisher.ts"
import {
  MpegTsNameInUse,
  MpegTsPortInUse,
  MpegTsStartupFailed,
  type MpegTsStartupError,
  MpegTsStreamNotFound
} from "./mpegts-errors.ts"
import { errorCount, type MpegTsCounters, TsDemuxer } from "./ts-demuxer.ts"

export interface MpegTsIngestOptions {
  /** Interface the UDP ports are bound on (proposed key mpegts_bind_address). Default "127.0.0.1". */
  readonly host?: string | undefined
  /** Whether the publications ask for recording (proposed key record_mpegts_streams). */
  readonly record: boolean
  /** A stream that receives nothing for this long ends (proposed key mpegts_stream_timeout). Default 10 s. */
  readonly timeout?: Duration.Input | undefined
  /** A timestamp this far off is a restarted sender (proposed key mpegts_timestamp_jump). Default 5 s. */
  readonly timestampJump?: Duration.Input | undefined
  /** SO_RCVBUF of each socket, in bytes (Linux caps it at net.core.rmem_max). Default 4 MiB. */
  readonly receiveBufferBytes?: number | undefined
}

export interface MpegTsStartup {
  readonly localStreamName: string
  readonly transport: "udp"
  /** The UDP port to bind; 0 or absent picks a free one. */
  readonly port?: number | undefined
}

export interface MpegTsStarted {
  readonly port: number
  readonly localStreamName: string
  readonly mediaSessionId: string
}

export interface MpegTsStreamView extends MpegTsStarted {
  readonly transport: "udp"
  readonly datagrams: number
  /** Datagrams dropped because the socket's receive queue was full (not kernel or network loss). */
  readonly droppedDatagrams: number
  readonly bytes: number
  /** Transport packets demuxed. */
  readonly packets: number
  /** Problems counted in the received stream (sync losses, CC gaps, bad CRCs, bad PES...). */
  readonly errors: number
  /** The address the last datagram came from, or null before any came. */
  readonly sender: string | null
  readonly counters: MpegTsCounters
}

export class MpegTsIngest extends Context.Service<MpegTsIngest, {
  readonly startup: (request: MpegTsStartup) => Effect.Effect<MpegTsStarted, MpegTsStartupError>
  /** Ends the stream's publication and frees its port; waits until both are done. */
  readonly terminate: (localStreamName: string) => Effect.Effect<void, MpegTsStreamNotFound>
  readonly list: () => Effect.Effect<ReadonlyArray<MpegTsStreamView>>
}>()("capstan/protocols/mpegts/MpegTsIngest") {
  static readonly layer = (options: MpegTsIngestOptions): Layer.Layer<MpegTsIngest, never, Publisher> =>
    Layer.effect(MpegTsIngest, make(options))
}

/** At most one warning per stream this often, naming the sender and the last problem. */
const WARNING_INTERVAL_MILLIS = 10_000

/** One stream's live state; `started` is set once its port is bound and its publication open. */
interface IngestStream {
  readonly localStreamName: string
  readonly demuxer: TsDemuxer
  started: MpegTsStarted | undefined
  dropped: () => number
  datagrams: number
  bytes: number
  sender: string | null
}

const view = (stream: IngestStream, started: MpegTsStarted): MpegTsStreamView => {
  const counters = stream.demuxer.counters
  return {
    ...started,
    transport: "udp",
    datagrams: stream.datagrams,
    droppedDatagrams: stream.dropped(),
    bytes: stream.bytes,
    packets: counters.packets,
    errors: errorCount(counters),
    sender: stream.sender,
    counters
  }
}

const openFailure = (request: MpegTsStartup, error: DatagramSocket.DatagramSocketError): MpegTsStartupError => {
  const port = request.port ?? 0
  const reason = error.reason
  if (reason._tag === "DatagramSocketOpenError" && reason.kind === "AddressInUse") {
    return new MpegTsPortInUse({ port, reason: `UDP port ${port} is already in use` })
  }
  const cause = "cause" in reason && reason.cause instanceof Error ? `: ${reason.cause.message}` : ""
  return new MpegTsStartupFailed({
    localStreamName: request.localStreamName,
    reason: `cannot bind UDP port ${port}: ${reason._tag}${cause}`
  })
}

export const make = Effect.fn("MpegTsIngest.make")(function*(options: MpegTsIngestOptions) {
  const publisher = yield* Publisher
  const host = options.host ?? "127.0.0.1"
  const timeout = Duration.fromInputUnsafe(options.timeout ?? Duration.seconds(10))
  const jumpMillis = Duration.toMillis(Duration.fromInputUnsafe(options.timestampJump ?? Duration.seconds(5)))
  const receiveBufferBytes = options.receiveBufferBytes ?? 4 * 1024 * 1024
  const streams = new Map<string, IngestStream>()
  const fibers = yield* FiberMap.make<string>()

  /** Receives until the timeout (a normal end) or a socket error; the publication is closed on every way out. */
  const receive = (stream: IngestStream, reader: DatagramSocket.Reader, publication: Publication, label: string) =>
    Effect.gen(function*() {
      let warnedAt = -Infinity
      let errorsWarned = 0
      for (;;) {
        const pulled = yield* Effect.timeoutOption(reader.pull, timeout)
        if (Option.isNone(pulled)) return `no data for ${Duration.format(timeout)}`
        const now = yield* Clock.currentTimeMillis
        const datagrams = pulled.value
        stream.sender = NetAddress.formatInet(datagrams[0].address)
        for (const datagram of datagrams) {
          stream.datagrams++
          stream.bytes += datagram.payload.length
          stream.demuxer.push(datagram.payload, now, publication)
        }
        const errors = errorCount(stream.demuxer.counters)
        if (errors > errorsWarned && now - warnedAt >= WARNING_INTERVAL_MILLIS) {
          yield* Effect.logWarning(
            `${label} from ${stream.sender}: ${errors - errorsWarned} problem(s) in the stream, the last: ` +
              `${stream.demuxer.lastProblem ?? "unknown"}`
          )
          warnedAt = now
          errorsWarned = errors
        }
      }
    })

  const run = (
    stream: IngestStream,
    request: MpegTsStartup,
    ready: Deferred.Deferred<MpegTsStarted, MpegTsStartupError>
  ) =>
    Effect.gen(function*() {
      const socket = yield* NodeDatagramSocket.make({
        bind: { address: host, port: request.port ?? 0 },
        kernelReceiveBufferSize: receiveBufferBytes,
        receiveBuffer: { capacity: 4096 }
      })
      const reader = yield* socket.reader.pipe(Effect.mapError((error) => openFailure(request, error)))
      const port = reader.address.port
      const publication = yield* publisher.open({
        protocol: "MPEGTS",
        streamName: request.localStreamName,
        app: "",
        query: {},
        remoteAddress: `udp://${host}:${port}`,
        record: options.record
      }).pipe(
        Effect.mapError(({ reason }) => new MpegTsNameInUse({ localStreamName: request.localStreamName, reason }))
      )
      const started = { port, localStreamName: request.localStreamName, mediaSessionId: publication.mediaSessionId }
      const label = `MPEG-TS ${started.localStreamName} on UDP ${host}:${port}`
      yield* Effect.addFinalizer((exit) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          stream.demuxer.flush(now, publication)
          const message = Exit.isSuccess(exit)
            ? String(exit.value)
            : Cause.hasInterruptsOnly(exit.cause)
            ? "terminated"
            : Option.isSome(Cause.findErrorOption(exit.cause))
            ? "socket failed"
            : "internal error"
          yield* publication.close({ failed: Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause), message })
          yield* Effect.logInfo(`${label} ended (${message}) after ${stream.datagrams} datagram(s)`)
        })
      )
      stream.started = started
      stream.dropped = reader.dropped
      yield* Deferred.succeed(ready, started)
      yield* Effect.logInfo(`${label} publishing as media session ${started.mediaSessionId}`)
      return yield* receive(stream, reader, publication, label)
    }).pipe(
      Effect.scoped,
      Effect.catchTag("DatagramSocketError", (error) =>
        Effect.logWarning(`MPEG-TS ${stream.localStreamName}: socket failed: ${error.message}`)),
      Effect.catchDefect((defect) => Effect.logError(`MPEG-TS ${stream.localStreamName} crashed: ${String(defect)}`)),
      Effect.onExit((exit) =>
        Effect.gen(function*() {
          if (streams.get(stream.localStreamName) === stream) streams.delete(stream.localStreamName)
          // A failure before the socket and publication were ready is startup's answer.
          const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
          yield* Deferred.fail(
            ready,
            Option.getOrElse(error, () =>
              new MpegTsStartupFailed({ localStreamName: stream.localStreamName, reason: "stopped while starting" }))
          )
        })
      ),
      Effect.asVoid
    )

  const startup = Effect.fn("MpegTsIngest.startup")(function*(request: MpegTsStartup) {
    const { localStreamName } = request
    if (streams.has(localStreamName)) {
      return yield* new MpegTsNameInUse({ localStreamName, reason: `MPEG-TS stream ${localStreamName} already exists` })
    }
    const stream: IngestStream = {
      localStreamName,
      demuxer: new TsDemuxer({ jumpMillis }),
      started: undefined,
      dropped: () => 0,
      datagrams: 0,
      bytes: 0,
      sender: null
    }
    streams.set(localStreamName, stream)
    const ready = yield* Deferred.make<MpegTsStarted, MpegTsStartupError>()
    yield* FiberMap.run(fibers, localStreamName, run(stream, request, ready))
    return yield* Deferred.await(ready)
  })

  const terminate = Effect.fn("MpegTsIngest.terminate")(function*(localStreamName: string) {
    const fiber = yield* FiberMap.get(fibers, localStreamName)
    if (Option.isNone(fiber) || streams.get(localStreamName)?.started === undefined) {
      return yield* new MpegTsStreamNotFound({ localStreamName, reason: `no MPEG-TS stream ${localStreamName}` })
    }
    yield* Fiber.interrupt(fiber.value)
  })

  const list = () =>
    Effect.sync(() => [...streams.values()].flatMap((s) => (s.started === undefined ? [] : [view(s, s.started)])))

  return MpegTsIngest.of({ startup, terminate, list })
})
