/**
 * PES packets (ISO/IEC 13818-1 2.4.3.6, 2.4.3.7) reassembled from the payloads of one PID, and their headers read:
 * the 33-bit PTS and DTS on the 90 kHz clock, and where the elementary stream bytes start.
 *
 *   00 00 01 | stream_id | PES_packet_length(16) | '10' scrambling(2) priority alignment copyright original
 *   | PTS_DTS_flags(2) ESCR ES_rate trick copy CRC extension | PES_header_data_length | [PTS 5] [DTS 5] ... | data
 *   PTS/DTS: '001x' ts[32..30] 1 | ts[29..15] 1 | ts[14..0] 1
 */
import { concatBytes } from "../../media/bytes.ts"

export interface PesPacket {
  /** 33-bit PTS, or -1 when the header carries none. */
  readonly pts: number
  /** 33-bit DTS; equals `pts` when the header carries only a PTS. */
  readonly dts: number
  readonly payload: Uint8Array
}

/** stream_ids whose PES header has no optional fields (2.4.3.7): maps, padding, private_stream_2, ECM, EMM... */
const withoutOptionalHeader = (streamId: number): boolean =>
  streamId === 0xbc || streamId === 0xbe || streamId === 0xbf || streamId === 0xf0 || streamId === 0xf1 ||
  streamId === 0xff || streamId === 0xf2 || streamId === 0xf8

const readTimestamp = (b: Uint8Array, at: number): number =>
  ((b[at]! >> 1) & 0x07) * 2 ** 30 + (((b[at + 1]! << 8) | b[at + 2]!) >> 1) * 2 ** 15 +
  (((b[at + 3]! << 8) | b[at + 4]!) >> 1)

/** Reads a whole PES packet; a string says why it is not one. */
export const parsePes = (pes: Uint8Array): PesPacket | string => {
  if (pes.length < 9 || pes[0] !== 0 || pes[1] !== 0 || pes[2] !== 1) return "PES packet without a start code"
  const streamId = pes[3]!
  if (withoutOptionalHeader(streamId)) return { pts: -1, dts: -1, payload: pes.subarray(6) }
  if ((pes[6]! & 0xc0) !== 0x80) return "PES header without its '10' marker bits"
  const flags = pes[7]! >> 6
  const dataStart = 9 + pes[8]!
  if (dataStart > pes.length) return "PES header longer than the packet"
  if (flags === 0b01) return "PES header with PTS_DTS_flags '01'"
  const needed = flags === 0b11 ? 19 : flags === 0b10 ? 14 : 9
  if (needed > dataStart) return "PES header too short for its timestamps"
  const pts = flags & 0b10 ? readTimestamp(pes, 9) : -1
  const dts = flags === 0b11 ? readTimestamp(pes, 14) : pts
  return { pts, dts, payload: pes.subarray(dataStart) }
}

/**
 * Gathers one PID's PES packet from its transport packets. A packet announcing its PES_packet_length is complete
 * when that many bytes have come; one with length 0 (unbounded, allowed for video) ends at the next
 * payload_unit_start_indicator.
 */
export class PesAssembler {
  private chunks: Array<Uint8Array> = []
  private size = 0
  /** Whole PES size including its 6-byte prefix, or 0 while unbounded or idle. */
  private expected = 0
  private active = false

  get inProgress(): boolean {
    return this.active
  }

  /** Drops what was gathered (packet loss on the PID): the PES in progress can no longer be whole. */
  drop(): void {
    this.chunks = []
    this.size = 0
    this.expected = 0
    this.active = false
  }

  /** Starts a PES with the payload of a packet that has payload_unit_start_indicator set. */
  start(payload: Uint8Array): void {
    this.drop()
    this.active = true
    this.append(payload)
  }

  append(payload: Uint8Array): void {
    if (!this.active) return
    const before = this.size
    this.chunks.push(payload)
    this.size += payload.length
    // PES_packet_length sits in bytes 4 and 5, which a short first payload may leave to the next packet.
    if (before < 6 && this.size >= 6) {
      const length = (this.byteAt(4) << 8) | this.byteAt(5)
      this.expected = length === 0 ? 0 : 6 + length
    }
  }

  private byteAt(index: number): number {
    for (const chunk of this.chunks) {
      if (index < chunk.length) return chunk[index]!
      index -= chunk.length
    }
    return 0
  }

  /** Whether a bounded PES has all its bytes. */
  get complete(): boolean {
    return this.active && this.expected > 0 && this.size >= this.expected
  }

  /** Whether what is gathered can be handed on when the next PES starts (unbounded, or bounded and whole). */
  get endsAtNextStart(): boolean {
    return this.active && (this.expected === 0 || this.size >= this.expected)
  }

  /** The gathered bytes (cut to PES_packet_length when bounded); the assembler is idle afterwards. */
  take(): Uint8Array {
    const whole = concatBytes(this.chunks)
    const bytes = this.expected > 0 && whole.length > this.expected ? whole.subarray(0, this.expected) : whole
    this.drop()
    return bytes
  }
}
