/**
 * A small reorder buffer for RTP packets by sequence number (RFC 3550 A.1 sets the dropout and misorder bounds):
 * packets that arrive early wait until the gap before them fills, for at most a few packets or ~100 ms, after which
 * the gap is skipped and counted as lost. Over TCP nothing is ever out of order and the buffer stays empty.
 */
import type { RtpPacket } from "./rtp-packet.ts"

export interface ReorderOptions {
  /** Packets held while waiting for a gap to fill; past this the gap is given up. Default 32. */
  readonly maxPackets?: number
  /** How long the oldest held packet may wait, in milliseconds. Default 100. */
  readonly maxDelayMs?: number
}

/** A jump this far ahead is a restarted or switched source, not loss (RFC 3550 A.1 MAX_DROPOUT). */
const MAX_DROPOUT = 3000

interface Held {
  readonly packet: RtpPacket
  readonly arrivedAt: number
}

export class RtpReorderBuffer {
  /** Packets that never came: the sizes of the gaps given up. */
  lost = 0
  /** Duplicates and packets that came after their gap was given up; they are dropped. */
  late = 0
  readonly #maxPackets: number
  readonly #maxDelayMs: number
  #expected: number | undefined
  /** Held packets, in sequence order after #expected. */
  #held: Array<Held> = []

  constructor(options: ReorderOptions = {}) {
    this.#maxPackets = options.maxPackets ?? 32
    this.#maxDelayMs = options.maxDelayMs ?? 100
  }

  /** How far `seq` is ahead of the next expected sequence number (0 = the expected one), modulo 2^16. */
  #ahead(seq: number): number {
    return (seq - this.#expected!) & 0xffff
  }

  /** Takes one packet and returns the packets now released, in sequence order. */
  push(packet: RtpPacket, nowMs: number): Array<RtpPacket> {
    const out: Array<RtpPacket> = []
    if (this.#expected === undefined) this.#expected = packet.sequenceNumber
    const ahead = this.#ahead(packet.sequenceNumber)
    if (ahead === 0) {
      out.push(packet)
      this.#expected = (packet.sequenceNumber + 1) & 0xffff
      this.#drain(out)
    } else if (ahead < MAX_DROPOUT) {
      this.#hold(packet, ahead, nowMs)
    } else if (0x10000 - ahead <= MAX_DROPOUT) {
      this.late++
    } else {
      // The source restarted with new sequence numbers: release what is held and follow it.
      this.#releaseAll(out, false)
      out.push(packet)
      this.#expected = (packet.sequenceNumber + 1) & 0xffff
    }
    while (this.#held.length > 0 &&
      (this.#held.length > this.#maxPackets || nowMs - this.#oldestArrival() > this.#maxDelayMs)) {
      this.#skipGap(out)
    }
    return out
  }

  /** Releases everything held, counting the gaps between as lost (at the end of a stream). */
  flush(): Array<RtpPacket> {
    const out: Array<RtpPacket> = []
    this.#releaseAll(out, true)
    return out
  }

  /** Forgets the sequence state, as for a new connection; held packets are dropped. */
  reset(): void {
    this.#expected = undefined
    this.#held = []
  }

  #hold(packet: RtpPacket, ahead: number, nowMs: number): void {
    let at = 0
    while (at < this.#held.length && this.#ahead(this.#held[at]!.packet.sequenceNumber) < ahead) at++
    if (at < this.#held.length && this.#held[at]!.packet.sequenceNumber === packet.sequenceNumber) {
      this.late++
      return
    }
    this.#held.splice(at, 0, { packet, arrivedAt: nowMs })
  }

  #oldestArrival(): number {
    let oldest = Infinity
    for (const held of this.#held) oldest = Math.min(oldest, held.arrivedAt)
    return oldest
  }

  /** Gives up the gap before the first held packet, then releases the run that follows it. */
  #skipGap(out: Array<RtpPacket>): void {
    const first = this.#held[0]!.packet.sequenceNumber
    this.lost += this.#ahead(first)
    this.#expected = first
    this.#drain(out)
  }

  #drain(out: Array<RtpPacket>): void {
    while (this.#held.length > 0 && this.#held[0]!.packet.sequenceNumber === this.#expected) {
      out.push(this.#held.shift()!.packet)
      this.#expected = (this.#expected + 1) & 0xffff
    }
  }

  #releaseAll(out: Array<RtpPacket>, countLoss: boolean): void {
    while (this.#held.length > 0) {
      if (countLoss) this.#skipGap(out)
      else out.push(this.#held.shift()!.packet)
    }
  }
}
