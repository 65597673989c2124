// A minimal RTMP publishing client (Adobe RTMP 1.0, sections 5.2 handshake, 5.3 chunks, 7.2 commands) that lets one
// Node process drive many real-time publishers: each connection sends the fixture's FLV tags paced by their timestamps.
// It reuses the server's AMF0 and chunk codecs (src/protocols/rtmp) and is checked against nginx-rtmp by its own test.
import { randomBytes } from "node:crypto"
import { connect, type Socket } from "node:net"
import { performance } from "node:perf_hooks"
import { parseArgs } from "node:util"
import { fileURLToPath } from "node:url"
import { amf0Property, type Amf0Value, decodeAmf0, encodeAmf0 } from "../src/protocols/rtmp/amf0.ts"
import { ChunkReader } from "../src/protocols/rtmp/chunk-reader.ts"
import { ChunkWriter } from "../src/protocols/rtmp/chunk-writer.ts"
import {
  MessageType,
  pingResponse,
  type RtmpMessage,
  setChunkSize,
  UserControlEvent
} from "../src/protocols/rtmp/messages.ts"
import { ensureFixture, type FlvFixture, type FlvTag, readFlvTags, TAG_AUDIO, TAG_SCRIPT } from "./flv-fixture.ts"

export interface PublishOptions {
  readonly host: string
  readonly port: number
  readonly app: string
  readonly streamName: string
  readonly fixture: FlvFixture
  /** Media time to publish; the fixture is looped with increasing timestamps to reach it. */
  readonly durationMs: number
  /** "rtmp" speaks the protocol; "raw" writes the same bytes at the same pace without reading any reply. */
  readonly mode: "rtmp" | "raw"
  readonly startDelayMs?: number
  /** Bound on each protocol step (connect, handshake, each command reply, close). */
  readonly stepTimeoutMs?: number
}

export interface PublishReport {
  readonly streamName: string
  readonly videoFramesSent: number
  readonly audioFramesSent: number
  readonly bytesSent: number
  /** Worst delay of a tag behind its real-time due moment: how well this process kept pace. */
  readonly maxLateMs: number
  /** Tags sent more than LATE_MS behind their due moment. */
  readonly lateTags: number
  /** Most bytes ever queued in the socket: the server fell behind reading by this much. */
  readonly maxQueuedBytes: number
  readonly error: string | undefined
}

const CHUNK_SIZE = 4096
const HANDSHAKE_SIZE = 1536
const CSID_COMMAND = 3
const CSID_DATA = 5
const CSID_AUDIO = 4
const CSID_VIDEO = 6
/** A tag this far behind its due moment counts as late: the publisher did not keep real time for it. */
export const LATE_MS = 100
/** Past this much unsent data the server is not reading at all; give up on the connection rather than grow. */
const MAX_QUEUED_BYTES = 256 * 1024 * 1024

const withTimeout = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** One publishing connection: the client half of the handshake and the command exchange, then paced media. */
class PublishSession {
  readonly socket: Socket
  readonly writer = new ChunkWriter()
  readonly reader = new ChunkReader()
  readonly replies = new Map<number, (values: Array<Amf0Value>) => void>()
  readonly statusWaiters: Array<(code: string) => void> = []
  handshakeBytes: Array<Buffer> = []
  handshakeLength = 0
  handshakeDone: ((s1: Buffer) => void) | undefined
  nextTransaction = 1
  bytesSent = 0
  maxQueuedBytes = 0
  failure: Error | undefined

  constructor(socket: Socket, raw: boolean) {
    this.socket = socket
    socket.on("error", (error) => this.fail(error))
    socket.on("close", () => this.fail(new Error("connection closed by the server")))
    socket.on("data", raw ? () => {} : (bytes: Buffer) => this.receive(bytes))
  }

  fail(error: Error): void {
    this.failure ??= error
    for (const waiter of this.statusWaiters.splice(0)) waiter("")
    for (const [transaction, resolve] of this.replies) resolve(["_error", transaction, null, { code: error.message }])
    this.replies.clear()
  }

  write(bytes: Buffer): void {
    if (this.socket.destroyed) return
    this.socket.write(bytes)
    this.bytesSent += bytes.length
    const queued = this.socket.writableLength
    if (queued > this.maxQueuedBytes) this.maxQueuedBytes = queued
    if (queued > MAX_QUEUED_BYTES) this.socket.destroy(new Error(`server stopped reading (${queued} bytes queued)`))
  }

  send(message: RtmpMessage): void {
    this.write(this.writer.write(message))
  }

  command(streamId: number, name: string, ...args: ReadonlyArray<Amf0Value>): number {
    const transaction = this.nextTransaction++
    this.send({
      chunkStreamId: CSID_COMMAND,
      typeId: MessageType.commandAmf0,
      streamId,
      timestamp: 0,
      payload: encodeAmf0(name, transaction, ...args)
    })
    return transaction
  }

  reply(transaction: number): Promise<Array<Amf0Value>> {
    return new Promise((resolve) => this.replies.set(transaction, resolve))
  }

  status(): Promise<string> {
    return new Promise((resolve) => this.statusWaiters.push(resolve))
  }

  private receive(bytes: Buffer): void {
    if (this.handshakeDone !== undefined) {
      this.handshakeBytes.push(bytes)
      this.handshakeLength += bytes.length
      if (this.handshakeLength < 1 + 2 * HANDSHAKE_SIZE) return
      const all = Buffer.concat(this.handshakeBytes)
      const done = this.handshakeDone
      this.handshakeDone = undefined
      this.handshakeBytes = []
      done(all.subarray(1, 1 + HANDSHAKE_SIZE))
      bytes = all.subarray(1 + 2 * HANDSHAKE_SIZE)
      if (bytes.length === 0) return
    }
    try {
      for (const message of this.reader.feed(bytes)) this.onMessage(message)
    } catch (error) {
      this.socket.destroy(error as Error)
    }
  }

  private onMessage(message: RtmpMessage): void {
    const event = message.typeId === MessageType.userControl ? message.payload.readUInt16BE(0) : -1
    if (event === UserControlEvent.pingRequest) {
      this.send(pingResponse(message.payload.readUInt32BE(2)))
      return
    }
    if (message.typeId !== MessageType.commandAmf0) return
    const values = decodeAmf0(message.payload)
    const [name, transaction] = values
    if ((name === "_result" || name === "_error") && typeof transaction === "number") {
      this.replies.get(transaction)?.(values)
      this.replies.delete(transaction)
    } else if (name === "onStatus") {
      const code = amf0Property(values[3], "code")
      for (const waiter of this.statusWaiters.splice(0)) waiter(typeof code === "string" ? code : "")
    }
  }
}

const openSocket = (host: string, port: number, timeoutMs: number): Promise<Socket> =>
  withTimeout(
    new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.off("error", reject)
        resolve(socket)
      })
      socket.once("error", reject)
      socket.setNoDelay(true)
    }),
    timeoutMs,
    "TCP connect"
  )

// C0 = version 3; C1 = time(4) zero(4) random(1528), the simple (unversioned) handshake of 5.2.3; C2 echoes S1.
const handshake = async (session: PublishSession, raw: boolean, timeoutMs: number): Promise<void> => {
  const c0c1 = Buffer.concat([Buffer.from([3]), Buffer.alloc(8), randomBytes(HANDSHAKE_SIZE - 8)])
  if (raw) {
    session.write(Buffer.concat([c0c1, c0c1.subarray(1)]))
    return
  }
  const s1 = new Promise<Buffer>((resolve) => (session.handshakeDone = resolve))
  session.write(c0c1)
  session.write(Buffer.from(await withTimeout(s1, timeoutMs, "S0+S1+S2")))
}

// connect, releaseStream, FCPublish, createStream, publish (7.2.1.1, 7.2.1.3, 7.2.2.6), as ffmpeg and OBS send them.
const startPublishing = async (session: PublishSession, o: PublishOptions, timeoutMs: number): Promise<number> => {
  const raw = o.mode === "raw"
  session.send(setChunkSize(CHUNK_SIZE))
  session.writer.chunkSize = CHUNK_SIZE
  const connected = session.command(0, "connect", {
    app: o.app,
    type: "nonprivate",
    flashVer: "FMLE/3.0 (compatible; capstan-bench)",
    tcUrl: `rtmp://${o.host}:${o.port}/${o.app}`
  })
  if (!raw) {
    const [name, , , info] = await withTimeout(session.reply(connected), timeoutMs, "connect _result")
    if (name !== "_result") throw new Error(`connect refused: ${String(amf0Property(info, "code"))}`)
  }
  session.command(0, "releaseStream", null, o.streamName)
  session.command(0, "FCPublish", null, o.streamName)
  const created = session.command(0, "createStream", null)
  let streamId = 1
  if (!raw) {
    const [name, , , id] = await withTimeout(session.reply(created), timeoutMs, "createStream _result")
    if (name !== "_result" || typeof id !== "number") throw new Error("createStream refused")
    streamId = id
  }
  const status = raw ? Promise.resolve("NetStream.Publish.Start") : session.status()
  session.command(streamId, "publish", null, o.streamName, "live")
  const code = await withTimeout(status, timeoutMs, "onStatus NetStream.Publish.Start")
  if (code !== "NetStream.Publish.Start") throw new Error(`publish refused: ${session.failure?.message ?? code}`)
  return streamId
}

const SET_DATA_FRAME = encodeAmf0("@setDataFrame")

const mediaMessage = (tag: FlvTag, streamId: number, timestamp: number): RtmpMessage => {
  if (tag.type === TAG_SCRIPT) {
    const payload = Buffer.concat([SET_DATA_FRAME, tag.payload])
    return { chunkStreamId: CSID_DATA, typeId: MessageType.dataAmf0, streamId, timestamp, payload }
  }
  const audio = tag.type === TAG_AUDIO
  return {
    chunkStreamId: audio ? CSID_AUDIO : CSID_VIDEO,
    typeId: audio ? MessageType.audio : MessageType.video,
    streamId,
    timestamp,
    payload: tag.payload
  }
}

interface PaceResult {
  videoFramesSent: number
  audioFramesSent: number
  maxLateMs: number
  lateTags: number
}

/** Sends every tag when its timestamp comes due on this connection's own clock; loops the fixture until durationMs. */
const paceMedia = (session: PublishSession, fixture: FlvFixture, streamId: number, durationMs: number) =>
  new Promise<PaceResult>((resolve) => {
    const result: PaceResult = { videoFramesSent: 0, audioFramesSent: 0, maxLateMs: 0, lateTags: 0 }
    for (const tag of fixture.headerTags) session.send(mediaMessage(tag, streamId, 0))
    const { loopTags, loopSpanMs } = fixture
    const start = performance.now()
    let loop = 0
    let index = 0
    const tick = (): void => {
      const now = performance.now() - start
      session.socket.cork()
      let due = Infinity
      while (session.failure === undefined) {
        if (index === loopTags.length) {
          loop += 1
          index = 0
        }
        const tag = loopTags[index]!
        const timestamp = loop * loopSpanMs + tag.timestamp
        if (timestamp >= durationMs) break
        if (timestamp > now) {
          due = timestamp
          break
        }
        const late = now - timestamp
        if (late > result.maxLateMs) result.maxLateMs = late
        if (late > LATE_MS) result.lateTags += 1
        session.send(mediaMessage(tag, streamId, timestamp))
        if (tag.isVideoFrame) result.videoFramesSent += 1
        else result.audioFramesSent += 1
        index += 1
      }
      session.socket.uncork()
      if (due === Infinity) resolve(result)
      else setTimeout(tick, due - now)
    }
    tick()
  })

const closeGracefully = (session: PublishSession, timeoutMs: number): Promise<void> => {
  const closed = new Promise<void>((resolve) => {
    if (session.socket.closed) resolve()
    else session.socket.once("close", () => resolve())
  })
  session.socket.end()
  return withTimeout(closed, timeoutMs, "close").catch(() => {
    session.socket.destroy()
  })
}

/** Publishes one stream for durationMs of media in real time; failures are reported, not thrown. */
export const publishStream = async (o: PublishOptions): Promise<PublishReport> => {
  const timeoutMs = o.stepTimeoutMs ?? 10_000
  const raw = o.mode === "raw"
  if (o.startDelayMs) await new Promise((resolve) => setTimeout(resolve, o.startDelayMs))
  let session: PublishSession | undefined
  let paced: PaceResult = { videoFramesSent: 0, audioFramesSent: 0, maxLateMs: 0, lateTags: 0 }
  let error: string | undefined
  try {
    session = new PublishSession(await openSocket(o.host, o.port, timeoutMs), raw)
    await handshake(session, raw, timeoutMs)
    const streamId = await startPublishing(session, o, timeoutMs)
    paced = await paceMedia(session, o.fixture, streamId, o.durationMs)
    if (session.failure !== undefined) throw session.failure
    session.command(0, "FCUnpublish", null, o.streamName)
    session.command(0, "deleteStream", null, streamId)
    await closeGracefully(session, timeoutMs)
  } catch (e) {
    error = e instanceof Error ? e.message : String(e)
    session?.socket.destroy()
  }
  return {
    streamName: o.streamName,
    ...paced,
    bytesSent: session?.bytesSent ?? 0,
    maxQueuedBytes: session?.maxQueuedBytes ?? 0,
    error
  }
}

/** Stream names for N publishers: prefix + zero-padded index, so no name is a prefix of another. */
export const streamNames = (prefix: string, count: number): Array<string> =>
  Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(3, "0")}`)

/** N concurrent publishers from this one process, their starts staggered by staggerMs each. */
export const publishMany = (
  base: Omit<PublishOptions, "streamName" | "startDelayMs">,
  names: ReadonlyArray<string>,
  staggerMs: number
): Promise<Array<PublishReport>> =>
  Promise.all(names.map((streamName, i) => publishStream({ ...base, streamName, startDelayMs: i * staggerMs })))

// CLI: npx node bench/rtmp-publisher.ts rtmp://127.0.0.1:1935/live/name [--streams N] [--seconds S] [--raw]
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      streams: { type: "string", default: "1" },
      seconds: { type: "string", default: "10" },
      stagger: { type: "string", default: "7" },
      raw: { type: "boolean", default: false }
    }
  })
  const url = new URL(positionals[0] ?? "rtmp://127.0.0.1:1935/live/bench")
  const [app, name] = url.pathname.slice(1).split("/")
  const count = Number(values.streams)
  const fixture = readFlvTags(ensureFixture())
  const options = {
    host: url.hostname,
    port: Number(url.port || 1935),
    app: app ?? "live",
    fixture,
    durationMs: Number(values.seconds) * 1000,
    mode: values.raw ? ("raw" as const) : ("rtmp" as const)
  }
  const names = count === 1 ? [name ?? "bench"] : streamNames(name ?? "bench", count)
  const reports = await publishMany(options, names, Number(values.stagger))
  for (const r of reports) console.log(JSON.stringify(r))
  process.exitCode = reports.some((r) => r.error !== undefined) ? 1 : 0
}
