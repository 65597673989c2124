/**
 * Cuts a byte stream (UDP datagrams, which need not hold whole packets) into 188-byte transport stream packets
 * (ISO/IEC 13818-1 2.4.3.2), finding the sync byte again after garbage; and reads the packet header fields.
 *
 *   sync_byte 0x47 | TEI(1) PUSI(1) priority(1) PID(13) | scrambling(2) adaptation_field_control(2) CC(4)
 *   [adaptation_field_length | discontinuity(1) random_access(1) ... ] | payload
 */

export const TS_PACKET_SIZE = 188
export const SYNC_BYTE = 0x47
/** The null packets' PID (2.4.3.3, table 2-3): stuffing, never demuxed. */
export const NULL_PID = 0x1fff

export const transportError = (p: Uint8Array, at: number): boolean => (p[at + 1]! & 0x80) !== 0
export const payloadUnitStart = (p: Uint8Array, at: number): boolean => (p[at + 1]! & 0x40) !== 0
export const packetPid = (p: Uint8Array, at: number): number => ((p[at + 1]! & 0x1f) << 8) | p[at + 2]!
export const continuityCounter = (p: Uint8Array, at: number): number => p[at + 3]! & 0x0f
/** adaptation_field_control bit 1 (2.4.3.3, table 2-5). */
export const hasPayload = (p: Uint8Array, at: number): boolean => (p[at + 3]! & 0x10) !== 0
const hasAdaptationField = (p: Uint8Array, at: number): boolean => (p[at + 3]! & 0x20) !== 0

/** The adaptation field's discontinuity_indicator (2.4.3.5): a continuity counter jump here is no loss. */
export const discontinuity = (p: Uint8Array, at: number): boolean =>
  hasAdaptationField(p, at) && p[at + 4]! > 0 && (p[at + 5]! & 0x80) !== 0

/** Offset of the payload within the packet at `at`, or -1 when the adaptation field leaves no room for one. */
export const payloadOffset = (p: Uint8Array, at: number): number => {
  if (!hasAdaptationField(p, at)) return at + 4
  const start = at + 5 + p[at + 4]!
  return start <= at + TS_PACKET_SIZE ? start : -1
}

export interface SyncCounters {
  /** Bytes skipped because no packet started there. */
  garbageBytes: number
  /** Runs of skipped bytes: times the packet alignment was lost, or not there to begin with. */
  syncLosses: number
}

/**
 * A step function over stream chunks: `push` hands every whole packet found to `onPacket` as (bytes, offset) and
 * keeps at most one partial packet for the next chunk. In sync, a 0x47 every 188 bytes is trusted; out of sync, a
 * candidate needs a second sync byte 188 bytes further on before it is believed, so stray 0x47 bytes in garbage
 * are skipped.
 */
export class TsPacketSync {
  private pending: Uint8Array | undefined
  private locked = false
  private skipping = false
  readonly counters: SyncCounters = { garbageBytes: 0, syncLosses: 0 }

  push(chunk: Uint8Array, onPacket: (bytes: Uint8Array, at: number) => void): void {
    const data = this.pending === undefined ? chunk : concat(this.pending, chunk)
    this.pending = undefined
    const length = data.length
    let at = 0
    while (at + TS_PACKET_SIZE <= length) {
      if (data[at] === SYNC_BYTE) {
        if (this.locked) {
          onPacket(data, at)
          at += TS_PACKET_SIZE
          continue
        }
        const next = at + TS_PACKET_SIZE
        if (next === length) break // Cannot confirm yet: wait for the next chunk.
        if (data[next] === SYNC_BYTE) {
          this.locked = true
          this.skipping = false
          onPacket(data, at)
          at = next
          continue
        }
      }
      this.locked = false
      if (!this.skipping) {
        this.skipping = true
        this.counters.syncLosses++
      }
      const found = data.indexOf(SYNC_BYTE, at + 1)
      const skipTo = found < 0 ? length : found
      this.counters.garbageBytes += skipTo - at
      at = skipTo
    }
    if (at < length) this.pending = data.slice(at)
  }

  /**
   * The stream ended. A packet waiting for the next one's sync byte to be believed is taken (the end is its
   * boundary); bytes still waiting for the rest of a packet never became one.
   */
  end(onPacket: (bytes: Uint8Array, at: number) => void): void {
    const pending = this.pending
    if (pending === undefined) return
    this.pending = undefined
    if (pending.length === TS_PACKET_SIZE && pending[0] === SYNC_BYTE) {
      onPacket(pending, 0)
    } else {
      this.counters.garbageBytes += pending.length
      if (!this.skipping) this.counters.syncLosses++
    }
    this.locked = false
    this.skipping = false
  }
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}
