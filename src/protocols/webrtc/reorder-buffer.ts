/**
 * A bounded jitter buffer for one RTP stream: packets come out in sequence-number order (RFC 3550 5.1, 16-bit and
 * wrapping), late duplicates are dropped, and a gap is declared lost once a later packet has waited `maxWaitMs`
 * (long enough for a NACK retransmission on a LAN) or the buffer holds `capacity` packets.
 */

const SEQ_MOD = 65536
/** A sequence number this far ahead of the expected one is a restarted sequence, not a gap. */
const RESYNC_DISTANCE = 3000

export type ReorderOutput<T> =
  | { readonly _tag: "Packet"; readonly packet: T }
  | { readonly _tag: "Lost"; readonly count: number }

export interface ReorderStats {
  /** Packets that came after their turn had passed, or twice. */
  late: number
  /** Sequence numbers given up as lost. */
  lost: number
  /** Times the sequence restarted far from where it was. */
  resyncs: number
}

interface Held<T> {
  readonly packet: T
  readonly arrivalMs: number
}

export class ReorderBuffer<T> {
  readonly capacity: number
  readonly maxWaitMs: number
  readonly stats: ReorderStats = { late: 0, lost: 0, resyncs: 0 }
  /** Extended sequence number of the next packet to release; undefined before the first. */
  #expected: number | undefined
  readonly #held = new Map<number, Held<T>>()

  constructor(options: { readonly capacity?: number; readonly maxWaitMs?: number } = {}) {
    this.capacity = options.capacity ?? 512
    this.maxWaitMs = options.maxWaitMs ?? 250
  }

  get size(): number {
    return this.#held.size
  }

  /** The extended sequence number nearest to the expected one. */
  #extend(sequenceNumber: number): number {
    const expected = this.#expected!
    const delta = (sequenceNumber - (expected % SEQ_MOD) + SEQ_MOD) % SEQ_MOD
    return delta >= SEQ_MOD / 2 ? expected + delta - SEQ_MOD : expected + delta
  }

  /** Takes one packet; returns what can be released now, in order. */
  push(sequenceNumber: number, packet: T, arrivalMs: number): Array<ReorderOutput<T>> {
    const out: Array<ReorderOutput<T>> = []
    if (this.#expected === undefined) this.#expected = sequenceNumber + SEQ_MOD
    let seq = this.#extend(sequenceNumber)
    if (seq < this.#expected || this.#held.has(seq)) {
      this.stats.late++
      return out
    }
    if (seq - this.#expected > RESYNC_DISTANCE) {
      this.stats.resyncs++
      this.flush(out)
      this.#expected = seq
    }
    this.#held.set(seq, { packet, arrivalMs })
    this.#release(out)
    while (this.#held.size > 0 && (this.#held.size > this.capacity || this.#oldestWait(arrivalMs) > this.maxWaitMs)) {
      this.#skipGap(out)
      this.#release(out)
    }
    return out
  }

  /** Releases everything held, declaring the gaps between lost (at the end of the stream). */
  flush(out: Array<ReorderOutput<T>> = []): Array<ReorderOutput<T>> {
    while (this.#held.size > 0) {
      this.#skipGap(out)
      this.#release(out)
    }
    return out
  }

  #release(out: Array<ReorderOutput<T>>): void {
    let next = this.#held.get(this.#expected!)
    while (next !== undefined) {
      this.#held.delete(this.#expected!)
      out.push({ _tag: "Packet", packet: next.packet })
      this.#expected!++
      next = this.#held.get(this.#expected!)
    }
  }

  /** Declares lost everything before the lowest held packet. */
  #skipGap(out: Array<ReorderOutput<T>>): void {
    let lowest = Infinity
    for (const seq of this.#held.keys()) if (seq < lowest) lowest = seq
    const count = lowest - this.#expected!
    if (count > 0) {
      this.stats.lost += count
      out.push({ _tag: "Lost", count })
    }
    this.#expected = lowest
  }

  /** How long the packet that waits longest has waited. */
  #oldestWait(nowMs: number): number {
    let oldest = nowMs
    for (const held of this.#held.values()) if (held.arrivalMs < oldest) oldest = held.arrivalMs
    return nowMs - oldest
  }
}
