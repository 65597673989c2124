/**
 * Transport stream packets (ISO/IEC 13818-1 2.4.3.2 and 2.4.3.4) written into a growing buffer: payloads are cut
 * into 188-byte packets with per-PID continuity counters, and the adaptation field carries the PCR, the random
 * access indicator and the stuffing that pads a payload's last packet.
 *
 *   sync_byte 0x47 | TEI PUSI priority PID(13) | scrambling(2) adaptation_field_control(2) continuity_counter(4)
 *   adaptation_field_length | disc RAI prio PCR_flag OPCR splice private ext | [PCR 6 bytes] | stuffing 0xFF...
 */

export const TS_PACKET_SIZE = 188
const HEADER_SIZE = 4
const MAX_PAYLOAD = TS_PACKET_SIZE - HEADER_SIZE
const SYNC_BYTE = 0x47
/** adaptation_field_control values (2.4.3.3, table 2-5). */
const PAYLOAD_ONLY = 0b01
const ADAPTATION_ONLY = 0b10
const ADAPTATION_AND_PAYLOAD = 0b11
/** Adaptation field flags (2.4.3.5). */
const RANDOM_ACCESS = 0x40
const PCR_FLAG = 0x10
const PCR_SIZE = 6
/** The 27 MHz system clock runs 300 times faster than the 90 kHz PTS clock (2.4.2.2). */
export const PCR_PER_90K = 300

export interface FirstPacketFields {
  /** PCR in 90 kHz units (its extension is left 0): a multiple of 300 on the 27 MHz clock. */
  readonly pcr90k?: number | undefined
  readonly randomAccess?: boolean | undefined
}

/** A byte buffer that grows by doubling; `take` hands out the bytes written so far and starts over. */
export class TsBuffer {
  private bytes = new Uint8Array(64 * 1024)
  length = 0

  reserve(count: number): Uint8Array {
    if (this.length + count > this.bytes.byteLength) {
      let size = this.bytes.byteLength * 2
      while (size < this.length + count) size *= 2
      const grown = new Uint8Array(size)
      grown.set(this.bytes.subarray(0, this.length))
      this.bytes = grown
    }
    return this.bytes
  }

  take(): Uint8Array {
    const out = this.bytes.slice(0, this.length)
    this.length = 0
    return out
  }
}

/** Writes PCR_base (33 bits), 6 reserved bits and PCR_extension (9 bits, here 0) at `at` (2.4.3.5). */
const writePcr = (out: Uint8Array, at: number, pcr90k: number): void => {
  const base = pcr90k % 2 ** 33
  out[at] = Math.floor(base / 2 ** 25) & 0xff
  out[at + 1] = Math.floor(base / 2 ** 17) & 0xff
  out[at + 2] = Math.floor(base / 2 ** 9) & 0xff
  out[at + 3] = Math.floor(base / 2) & 0xff
  out[at + 4] = ((base & 1) << 7) | 0x7e
  out[at + 5] = 0
}

export class TsPacketizer {
  /** The continuity counter the next packet with payload gets, per PID. */
  private readonly counters = new Uint8Array(8192)
  readonly out = new TsBuffer()

  private header(buffer: Uint8Array, at: number, pid: number, start: boolean, control: number, counter: number): void {
    buffer[at] = SYNC_BYTE
    buffer[at + 1] = (start ? 0x40 : 0) | ((pid >> 8) & 0x1f)
    buffer[at + 2] = pid & 0xff
    buffer[at + 3] = (control << 4) | counter
  }

  private nextCounter(pid: number): number {
    const counter = this.counters[pid]!
    this.counters[pid] = (counter + 1) & 0x0f
    return counter
  }

  /** One PSI section (2.4.4) in one packet: pointer_field 0, the section, then 0xFF to the end. */
  writeSection(pid: number, section: Uint8Array): void {
    const buffer = this.out.reserve(TS_PACKET_SIZE)
    const at = this.out.length
    this.header(buffer, at, pid, true, PAYLOAD_ONLY, this.nextCounter(pid))
    buffer[at + HEADER_SIZE] = 0
    buffer.set(section, at + HEADER_SIZE + 1)
    buffer.fill(0xff, at + HEADER_SIZE + 1 + section.byteLength, at + TS_PACKET_SIZE)
    this.out.length += TS_PACKET_SIZE
  }

  /** A packet with only an adaptation field carrying a PCR; continuity counters do not count it (2.4.3.3). */
  writePcrOnly(pid: number, pcr90k: number): void {
    const buffer = this.out.reserve(TS_PACKET_SIZE)
    const at = this.out.length
    this.header(buffer, at, pid, false, ADAPTATION_ONLY, (this.counters[pid]! + 15) & 0x0f)
    buffer[at + 4] = MAX_PAYLOAD - 1
    buffer[at + 5] = PCR_FLAG
    writePcr(buffer, at + 6, pcr90k)
    buffer.fill(0xff, at + 6 + PCR_SIZE, at + TS_PACKET_SIZE)
    this.out.length += TS_PACKET_SIZE
  }

  /** One PES packet (`head` then `body`) over as many packets as it needs; the first one starts the unit. */
  writePes(pid: number, head: Uint8Array, body: Uint8Array, first: FirstPacketFields): void {
    const total = head.byteLength + body.byteLength
    // An upper bound: the first packet's adaptation field takes at most 2 + PCR_SIZE bytes of payload room.
    const packets = Math.ceil((total + 2 + PCR_SIZE) / MAX_PAYLOAD)
    const buffer = this.out.reserve(packets * TS_PACKET_SIZE)
    let at = this.out.length
    let sent = 0
    let isFirst = true
    while (sent < total) {
      const flags = isFirst
        ? (first.pcr90k !== undefined ? PCR_FLAG : 0) | (first.randomAccess ? RANDOM_ACCESS : 0)
        : 0
      // The adaptation field's fixed part: length byte, flags byte and the PCR when there is one.
      const fixed = flags === 0 ? 0 : 2 + ((flags & PCR_FLAG) !== 0 ? PCR_SIZE : 0)
      const room = MAX_PAYLOAD - fixed
      const take = Math.min(room, total - sent)
      // Stuffing fills what the payload leaves of the packet; a 1-byte adaptation field is its length byte alone.
      const adaptation = fixed + (room - take)
      const control = adaptation > 0 ? ADAPTATION_AND_PAYLOAD : PAYLOAD_ONLY
      this.header(buffer, at, pid, isFirst, control, this.nextCounter(pid))
      let p = at + HEADER_SIZE
      if (adaptation > 0) {
        buffer[p] = adaptation - 1
        if (adaptation > 1) {
          buffer[p + 1] = flags
          if ((flags & PCR_FLAG) !== 0) writePcr(buffer, p + 2, first.pcr90k!)
          buffer.fill(0xff, p + (fixed === 0 ? 2 : fixed), p + adaptation)
        }
        p += adaptation
      }
      // Copy `take` bytes of head+body starting at `sent`.
      let from = sent
      let left = take
      if (from < head.byteLength) {
        const n = Math.min(left, head.byteLength - from)
        buffer.set(head.subarray(from, from + n), p)
        p += n
        from += n
        left -= n
      }
      if (left > 0) {
        const offset = from - head.byteLength
        buffer.set(body.subarray(offset, offset + left), p)
      }
      sent += take
      at += TS_PACKET_SIZE
      isFirst = false
    }
    this.out.length = at
  }
}
