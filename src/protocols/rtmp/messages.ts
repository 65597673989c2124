/**
 * RTMP messages (Adobe RTMP 1.0, sections 5.4 and 7): the message shape shared by the chunk reader and writer,
 * the protocol control and user control messages, and the AMF0 command replies a publishing server sends.
 */
import { type Amf0Value, encodeAmf0 } from "./amf0.ts"

/** Message type ids (5.4 protocol control, 6.2 user control, 7.1 commands/data/media). */
export const MessageType = {
  setChunkSize: 1,
  abort: 2,
  acknowledgement: 3,
  userControl: 4,
  windowAckSize: 5,
  setPeerBandwidth: 6,
  audio: 8,
  video: 9,
  dataAmf3: 15,
  commandAmf3: 17,
  dataAmf0: 18,
  commandAmf0: 20
} as const

/** One reassembled message. `timestamp` is in milliseconds, unwrapped past 2^32 (5.3.1.3 timestamps wrap). */
export interface RtmpMessage {
  readonly chunkStreamId: number
  readonly typeId: number
  readonly streamId: number
  readonly timestamp: number
  readonly payload: Buffer
}

/** Chunk stream ids by convention: 2 is reserved for protocol control (5.4); commands and media use their own. */
export const ChunkStreamId = { control: 2, command: 3, audio: 4, status: 5, video: 6 } as const

const control = (typeId: number, payload: Buffer): RtmpMessage => ({
  chunkStreamId: ChunkStreamId.control,
  typeId,
  streamId: 0,
  timestamp: 0,
  payload
})

const uint32 = (value: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(value >>> 0)
  return b
}

/** Set Chunk Size (5.4.1): the first bit must be zero. */
export const setChunkSize = (size: number): RtmpMessage => control(MessageType.setChunkSize, uint32(size & 0x7fffffff))

/** Abort Message (5.4.2): drop the partly received message of a chunk stream. */
export const abort = (chunkStreamId: number): RtmpMessage => control(MessageType.abort, uint32(chunkStreamId))

/** Acknowledgement (5.4.3): the number of bytes received so far. */
export const acknowledgement = (sequenceNumber: number): RtmpMessage =>
  control(MessageType.acknowledgement, uint32(sequenceNumber))

/** Window Acknowledgement Size (5.4.4). */
export const windowAckSize = (size: number): RtmpMessage => control(MessageType.windowAckSize, uint32(size))

/** Set Peer Bandwidth (5.4.5); limit type 2 is "dynamic". */
export const setPeerBandwidth = (size: number, limitType: 0 | 1 | 2): RtmpMessage => {
  const b = Buffer.alloc(5)
  b.writeUInt32BE(size)
  b[4] = limitType
  return control(MessageType.setPeerBandwidth, b)
}

/** User Control event types (7.1.7). */
export const UserControlEvent = { streamBegin: 0, streamEof: 1, pingRequest: 6, pingResponse: 7 } as const

/** User Control Stream Begin (7.1.7): the stream is ready to be used. */
export const streamBegin = (streamId: number): RtmpMessage => {
  const b = Buffer.alloc(6)
  b.writeUInt16BE(UserControlEvent.streamBegin)
  b.writeUInt32BE(streamId, 2)
  return control(MessageType.userControl, b)
}

/** Ping Response (7.1.7) echoes the ping request's timestamp. */
export const pingResponse = (timestamp: number): RtmpMessage => {
  const b = Buffer.alloc(6)
  b.writeUInt16BE(UserControlEvent.pingResponse)
  b.writeUInt32BE(timestamp >>> 0, 2)
  return control(MessageType.userControl, b)
}

/** An AMF0 command message (7.1.1) such as `_result` or `onStatus`, sent on the command chunk stream. */
export const command = (streamId: number, ...values: ReadonlyArray<Amf0Value>): RtmpMessage => ({
  chunkStreamId: ChunkStreamId.command,
  typeId: MessageType.commandAmf0,
  streamId,
  timestamp: 0,
  payload: encodeAmf0(...values)
})

/** Reply to `connect` (7.2.1.1). */
export const connectResult = (transactionId: number): RtmpMessage =>
  command(
    0,
    "_result",
    transactionId,
    { fmsVer: "FMS/3,0,1,123", capabilities: 31 },
    {
      level: "status",
      code: "NetConnection.Connect.Success",
      description: "Connection succeeded.",
      objectEncoding: 0
    }
  )

/** Reply to `createStream` (7.2.1.3): the new message stream id. */
export const createStreamResult = (transactionId: number, streamId: number): RtmpMessage =>
  command(0, "_result", transactionId, null, streamId)

/** A bare `_result` for commands that need no answer but whose client may track one (releaseStream, _checkbw). */
export const emptyResult = (transactionId: number): RtmpMessage => command(0, "_result", transactionId, null, undefined)

/** `onFCPublish`/`onFCUnpublish`, as FMS-compatible servers send in answer to FCPublish/FCUnpublish. */
export const fcStatus = (name: "onFCPublish" | "onFCUnpublish", code: string, streamName: string): RtmpMessage =>
  command(0, name, 0, null, { code, description: streamName })

/** `onStatus` on a message stream (7.2.2): NetStream.Publish.Start, NetStream.Publish.BadName, ... */
export const onStatus = (
  streamId: number,
  level: "status" | "error",
  code: string,
  description: string
): RtmpMessage => ({
  ...command(streamId, "onStatus", 0, null, { level, code, description }),
  chunkStreamId: ChunkStreamId.status
})
