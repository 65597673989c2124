/**
 * The per-connection RTMP state machine of a publishing server, free of sockets and Effects: bytes go in through
 * receive(), replies come out of takeOutput(), and publish/unpublish come out of next() for the server to perform.
 * Command flow per Adobe RTMP 1.0 section 7.2 and the FMS conventions (releaseStream/FCPublish) encoders use.
 */
import type { Publication, PublishRequest } from "../../media/publisher.ts"
import { type Amf0Value, amf0Property, decodeAmf0 } from "./amf0.ts"
import { ChunkReader } from "./chunk-reader.ts"
import { ChunkWriter } from "./chunk-writer.ts"
import { type FlvSink, FlvDemuxer } from "./flv.ts"
import { ServerHandshake } from "./handshake.ts"
import * as Messages from "./messages.ts"
import { MessageType, type RtmpMessage, UserControlEvent } from "./messages.ts"
import { RtmpProtocolError } from "./protocol-error.ts"

export interface ConnectionOptions {
  readonly remoteAddress: string
  /** Whether publications ask for recording unless the stream name's query says `record=true|false`. */
  readonly record: boolean
  /** The chunk size we send with (announced by Set Chunk Size after connect). */
  readonly chunkSize: number
  /** Our Window Acknowledgement Size and Set Peer Bandwidth values. */
  readonly windowAckSize: number
  readonly maxMessageLength: number
}

/** What the server must do for the connection; everything else the state machine does by itself. */
export type ConnectionAction =
  | { readonly _tag: "Publish"; readonly request: PublishRequest }
  | { readonly _tag: "Unpublish"; readonly message: string }

export interface ConnectionLog {
  readonly level: "Debug" | "Info" | "Warn"
  readonly message: string
}

/** Splits `name?a=1&b=2` into the name and its query parameters. */
export const splitQuery = (raw: string): { readonly name: string; readonly query: Record<string, string> } => {
  const at = raw.indexOf("?")
  if (at < 0) return { name: raw, query: {} }
  return { name: raw.slice(0, at), query: Object.fromEntries(new URLSearchParams(raw.slice(at + 1))) }
}

/** `rtmp://host:port/app?query` → `app?query`. */
const appFromTcUrl = (tcUrl: string | undefined): string => {
  if (tcUrl === undefined || !URL.canParse(tcUrl)) return ""
  const url = new URL(tcUrl)
  return url.pathname.replace(/^\/+/, "") + url.search
}

const asString = (value: Amf0Value): string | undefined => (typeof value === "string" ? value : undefined)
const asNumber = (value: Amf0Value): number => (typeof value === "number" ? value : 0)

export class RtmpConnection {
  private readonly options: ConnectionOptions
  private readonly handshake = new ServerHandshake()
  private readonly reader: ChunkReader
  private readonly writer = new ChunkWriter()
  private readonly demuxer = new FlvDemuxer()
  private output: Array<Buffer> = []
  private logs: Array<ConnectionLog> = []
  private queue: Array<RtmpMessage> = []
  private queueIndex = 0
  private bytesReceived = 0
  private bytesAcknowledged = 0
  private peerWindow = 0
  private app = ""
  private appQuery: Record<string, string> = {}
  private nextStreamId = 1
  private publishStreamId = 0
  private publishName = ""
  private pendingPublish = false
  private current: Publication | undefined
  private sink: FlvSink | undefined
  private closing = false

  constructor(options: ConnectionOptions) {
    this.options = options
    this.reader = new ChunkReader({ maxMessageLength: options.maxMessageLength })
  }

  /** True when the connection should be closed once the output is flushed (after a rejected publish). */
  get closeRequested(): boolean {
    return this.closing
  }

  /** Whether replies or log lines wait to be taken, or the connection should close: the server has work to do. */
  get hasWork(): boolean {
    return this.output.length > 0 || this.logs.length > 0 || this.closing
  }

  get publication(): Publication | undefined {
    return this.current
  }

  /** `app/stream` of the publish command, or "" before one. */
  get streamLabel(): string {
    return this.publishName === "" ? "" : `${this.app}/${this.publishName}`
  }

  /** Whether the peer stopped in the middle of the handshake or of a chunk, and why; undefined if cleanly. */
  get truncation(): string | undefined {
    if (this.bytesReceived === 0) return undefined
    if (!this.handshake.done) return "truncated handshake at end of stream"
    if (!this.reader.idle) return "truncated chunk at end of stream"
    return undefined
  }

  /** Feeds bytes from the socket. Throws RtmpProtocolError if the peer broke the protocol. */
  receive(bytes: Buffer): void {
    this.bytesReceived += bytes.length
    let chunkBytes: Buffer | undefined = bytes
    if (!this.handshake.done) {
      const step = this.handshake.feed(bytes)
      if (step.reply !== undefined) this.output.push(step.reply)
      chunkBytes = step.rest
    }
    if (chunkBytes !== undefined) {
      const messages = this.reader.feed(chunkBytes)
      if (messages.length > 0) {
        if (this.queueIndex >= this.queue.length) {
          this.queue = messages
          this.queueIndex = 0
        } else {
          for (const message of messages) this.queue.push(message)
        }
      }
    }
    // Acknowledgement (5.4.3) once the bytes since the last one reach the window the peer asked for.
    if (this.peerWindow > 0 && this.bytesReceived - this.bytesAcknowledged >= this.peerWindow) {
      this.bytesAcknowledged = this.bytesReceived
      this.send(Messages.acknowledgement(this.bytesReceived % 0x1_0000_0000))
    }
  }

  /** Handles queued messages until one needs the server (publish/unpublish) or none are left. */
  next(): ConnectionAction | undefined {
    while (this.queueIndex < this.queue.length && !this.pendingPublish && !this.closing) {
      const message = this.queue[this.queueIndex++]
      const action = this.handle(message)
      if (action !== undefined) return action
    }
    if (this.queueIndex >= this.queue.length && this.queue.length > 0) {
      // Let the handled payloads go.
      this.queue = []
      this.queueIndex = 0
    }
    return undefined
  }

  takeOutput(): Array<Buffer> {
    const out = this.output
    this.output = []
    return out
  }

  takeLogs(): Array<ConnectionLog> {
    const out = this.logs
    this.logs = []
    return out
  }

  /** The Publisher accepted the publish (7.2.2.6): Stream Begin, then onStatus NetStream.Publish.Start. */
  published(publication: Publication): void {
    this.pendingPublish = false
    this.current = publication
    this.sink = {
      track: publication.track,
      frame: publication.frame,
      warn: (message) => this.log("Warn", `stream ${this.publishName}: ${message}`)
    }
    this.send(Messages.streamBegin(this.publishStreamId))
    const description = `${this.publishName} is now published`
    this.send(Messages.onStatus(this.publishStreamId, "status", "NetStream.Publish.Start", description))
  }

  /** The Publisher refused the publish: onStatus NetStream.Publish.BadName, then the connection closes. */
  rejected(reason: string): void {
    this.pendingPublish = false
    this.send(Messages.onStatus(this.publishStreamId, "error", "NetStream.Publish.BadName", reason))
    this.closing = true
  }

  /** The server closed the publication after an Unpublish action. */
  unpublished(): void {
    this.current = undefined
    this.sink = undefined
  }

  private send(message: RtmpMessage): void {
    this.output.push(this.writer.write(message))
  }

  private log(level: ConnectionLog["level"], message: string): void {
    this.logs.push({ level, message })
  }

  private handle(message: RtmpMessage): ConnectionAction | undefined {
    switch (message.typeId) {
      case MessageType.video:
        if (this.sink !== undefined && message.streamId === this.publishStreamId) {
          this.demuxer.videoTag(message.payload, message.timestamp, this.sink)
        }
        return undefined
      case MessageType.audio:
        if (this.sink !== undefined && message.streamId === this.publishStreamId) {
          this.demuxer.audioTag(message.payload, message.timestamp, this.sink)
        }
        return undefined
      case MessageType.commandAmf0:
        return this.command(decodeAmf0(message.payload), message)
      case MessageType.commandAmf3:
        // An AMF3 command message starts with a format byte and then carries AMF0 values (7.1.1).
        return this.command(decodeAmf0(message.payload, 1), message)
      case MessageType.dataAmf0:
        return this.data(decodeAmf0(message.payload))
      case MessageType.dataAmf3:
        return this.data(decodeAmf0(message.payload, 1))
      case MessageType.windowAckSize:
        if (message.payload.length < 4) throw new RtmpProtocolError("Window Acknowledgement Size shorter than 4 bytes")
        this.peerWindow = message.payload.readUInt32BE(0)
        return undefined
      case MessageType.userControl:
        if (message.payload.length >= 6 && message.payload.readUInt16BE(0) === UserControlEvent.pingRequest) {
          this.send(Messages.pingResponse(message.payload.readUInt32BE(2)))
        }
        return undefined
      case MessageType.acknowledgement:
      case MessageType.setPeerBandwidth:
        return undefined
      default:
        this.log("Debug", `ignoring RTMP message type ${message.typeId}`)
        return undefined
    }
  }

  private data(values: Array<Amf0Value>): undefined {
    const [first, second, third] = values
    // ffmpeg and OBS send ["@setDataFrame", "onMetaData", {...}]; older encoders ["onMetaData", {...}].
    const metadata = first === "@setDataFrame" && second === "onMetaData"
      ? third
      : first === "onMetaData"
      ? second
      : null
    if (metadata === null) return undefined
    const width = asNumber(amf0Property(metadata, "width"))
    const height = asNumber(amf0Property(metadata, "height"))
    if (width > 0 && height > 0) this.demuxer.sizeHint = { width: Math.round(width), height: Math.round(height) }
    return undefined
  }

  private command(values: Array<Amf0Value>, message: RtmpMessage): ConnectionAction | undefined {
    const name = asString(values[0])
    const transactionId = asNumber(values[1])
    if (name === undefined) throw new RtmpProtocolError("command message without a command name")
    switch (name) {
      case "connect": {
        // 7.2.1.1: the app (and any query an encoder put after it) comes in the command object, else in tcUrl.
        const { name: app, query } = splitQuery(
          asString(amf0Property(values[2], "app")) ?? appFromTcUrl(asString(amf0Property(values[2], "tcUrl")))
        )
        this.app = app.replace(/\/+$/, "")
        this.appQuery = query
        this.send(Messages.windowAckSize(this.options.windowAckSize))
        this.send(Messages.setPeerBandwidth(this.options.windowAckSize, 2))
        this.send(Messages.setChunkSize(this.options.chunkSize))
        this.writer.chunkSize = this.options.chunkSize
        this.send(Messages.connectResult(transactionId))
        return undefined
      }
      case "releaseStream":
      case "_checkbw":
        this.send(Messages.emptyResult(transactionId))
        return undefined
      case "FCPublish":
        this.send(Messages.fcStatus("onFCPublish", "NetStream.Publish.Start", asString(values[3]) ?? ""))
        return undefined
      case "createStream":
        this.send(Messages.createStreamResult(transactionId, this.nextStreamId++))
        return undefined
      case "publish":
        return this.publish(asString(values[3]) ?? "", message.streamId)
      case "FCUnpublish":
        this.send(Messages.fcStatus("onFCUnpublish", "NetStream.Unpublish.Success", asString(values[3]) ?? ""))
        return this.unpublish("client unpublished (FCUnpublish)")
      case "deleteStream":
      case "closeStream":
        return this.unpublish(`client unpublished (${name})`)
      default:
        this.log("Debug", `ignoring RTMP command ${name}`)
        return undefined
    }
  }

  private publish(rawName: string, streamId: number): ConnectionAction | undefined {
    const { name, query: streamQuery } = splitQuery(rawName)
    if (this.current !== undefined || name === "") {
      const reason = name === "" ? "empty stream name" : `already publishing ${this.publishName}`
      this.send(Messages.onStatus(streamId, "error", "NetStream.Publish.BadName", reason))
      return undefined
    }
    const query = { ...this.appQuery, ...streamQuery }
    const record = query.record === "true" ? true : query.record === "false" ? false : this.options.record
    this.publishStreamId = streamId
    this.publishName = name
    this.pendingPublish = true
    return {
      _tag: "Publish",
      request: {
        protocol: "RTMP",
        streamName: name,
        app: this.app,
        query,
        remoteAddress: this.options.remoteAddress,
        record
      }
    }
  }

  private unpublish(message: string): ConnectionAction | undefined {
    return this.current === undefined ? undefined : { _tag: "Unpublish", message }
  }
}
