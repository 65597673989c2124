/**
 * Server side of the simple RTMP handshake (Adobe RTMP 1.0, section 5.2): read C0+C1, answer S0+S1+S2, read C2.
 * An incremental parser over Buffers; bytes that follow C2 in the same read belong to the chunk stream.
 */
import { randomBytes } from "node:crypto"
import { RtmpProtocolError } from "./protocol-error.ts"

/** The only version byte RTMP 1.0 defines (5.2.2); 6 would be RTMPE, which is not supported. */
export const RTMP_VERSION = 3
/** C1/S1/C2/S2 are 1536 bytes each (5.2.3, 5.2.4). */
export const HANDSHAKE_SIZE = 1536

export interface HandshakeStep {
  /** S0+S1+S2, to be written once C0+C1 have arrived. */
  readonly reply: Buffer | undefined
  /** True once C2 has been read; `rest` then holds the first chunk-stream bytes, if any. */
  readonly done: boolean
  readonly rest: Buffer | undefined
}

/**
 * S1 is time(4) zero(4) random(1528) (5.2.3); S2 echoes C1 with our read time in bytes 4-7 (5.2.4).
 * Timestamps are 0: the spec lets an endpoint start its epoch at 0, and nothing here uses them.
 */
export const serverHandshakeReply = (c1: Buffer): Buffer => {
  const reply = Buffer.alloc(1 + HANDSHAKE_SIZE * 2)
  reply[0] = RTMP_VERSION
  randomBytes(HANDSHAKE_SIZE - 8).copy(reply, 1 + 8)
  c1.copy(reply, 1 + HANDSHAKE_SIZE)
  reply.writeUInt32BE(0, 1 + HANDSHAKE_SIZE + 4)
  return reply
}

export class ServerHandshake {
  private buffered: Buffer = Buffer.alloc(0)
  private phase: "c0c1" | "c2" | "done" = "c0c1"

  get done(): boolean {
    return this.phase === "done"
  }

  feed(bytes: Buffer): HandshakeStep {
    if (this.phase === "done") return { reply: undefined, done: true, rest: bytes }
    this.buffered = this.buffered.length === 0 ? bytes : Buffer.concat([this.buffered, bytes])
    let reply: Buffer | undefined
    if (this.phase === "c0c1") {
      // Check C0 as soon as it arrives, so that garbage is refused without waiting for 1537 bytes.
      if (this.buffered.length >= 1 && this.buffered[0] !== RTMP_VERSION) {
        throw new RtmpProtocolError(
          `bad handshake: unsupported RTMP version byte ${this.buffered[0]} (expected ${RTMP_VERSION})`
        )
      }
      if (this.buffered.length < 1 + HANDSHAKE_SIZE) return { reply: undefined, done: false, rest: undefined }
      reply = serverHandshakeReply(this.buffered.subarray(1, 1 + HANDSHAKE_SIZE))
      this.buffered = this.buffered.subarray(1 + HANDSHAKE_SIZE)
      this.phase = "c2"
    }
    // C2 should echo S1, but clients differ (some send zeros); like other servers, its content is not checked.
    if (this.buffered.length < HANDSHAKE_SIZE) return { reply, done: false, rest: undefined }
    const rest = this.buffered.length > HANDSHAKE_SIZE ? this.buffered.subarray(HANDSHAKE_SIZE) : undefined
    this.buffered = Buffer.alloc(0)
    this.phase = "done"
    return { reply, done: true, rest }
  }
}
