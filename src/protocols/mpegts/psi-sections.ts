/**
 * Program specific information of a transport stream (ISO/IEC 13818-1 2.4.4): sections reassembled from packet
 * payloads (pointer_field, 2.4.4.2), their CRC-32 checked (Annex A), and the PAT (2.4.4.3) and PMT (2.4.4.8) read.
 *
 *   table_id | syntax(1) '0' '11' section_length(12) | id(16) | '11' version(5) current_next(1) | section | last
 *   PAT: { program_number(16) | '111' PID(13) }...                                             | CRC_32
 *   PMT: '111' PCR_PID(13) | '1111' program_info_length(12) | descriptors
 *        { stream_type | '111' elementary_PID(13) | '1111' ES_info_length(12) | descriptors }... | CRC_32
 */
import { crc32Mpeg } from "../../media/crc32-mpeg.ts"

export const PAT_PID = 0x0000
export const TABLE_PAT = 0x00
export const TABLE_PMT = 0x02
/** stream_type values (2.4.4.9, table 2-34) this ingest demuxes. */
export const STREAM_TYPE_H264 = 0x1b
export const STREAM_TYPE_AAC_ADTS = 0x0f

/** A section's longest legal length (section_length is at most 1021 for PAT and PMT, 2.4.4.4). */
const MAX_SECTION_LENGTH = 3 + 1021
const HEADER_LENGTH = 8
const CRC_LENGTH = 4


/** A whole section with its CRC_32 included has CRC 0 (Annex A: the decoder's register ends at zero). */
export const sectionCrcValid = (section: Uint8Array): boolean => crc32Mpeg(section) === 0

const sectionLength = (bytes: Uint8Array, at: number): number => 3 + (((bytes[at + 1]! & 0x0f) << 8) | bytes[at + 2]!)

/**
 * Collects the sections of one PID from its packet payloads. A section may span packets, and a packet with
 * payload_unit_start_indicator may end one section and start others after its pointer_field.
 */
export class SectionAssembler {
  private partial: Uint8Array | undefined
  private filled = 0

  /** Forgets a section in progress (after packet loss on the PID). */
  reset(): void {
    this.partial = undefined
    this.filled = 0
  }

  push(payload: Uint8Array, unitStart: boolean, onSection: (section: Uint8Array) => void): void {
    if (!unitStart) {
      if (this.partial !== undefined) this.fill(payload, onSection)
      return
    }
    const pointer = payload[0] ?? 0
    if (this.partial !== undefined) this.fill(payload.subarray(1, 1 + pointer), onSection)
    this.reset()
    let at = 1 + pointer
    while (at + 3 <= payload.length && payload[at] !== 0xff) {
      const length = sectionLength(payload, at)
      if (at + length <= payload.length) {
        onSection(payload.subarray(at, at + length))
        at += length
        continue
      }
      if (length <= MAX_SECTION_LENGTH) {
        this.partial = new Uint8Array(length)
        this.partial.set(payload.subarray(at))
        this.filled = payload.length - at
      }
      return
    }
  }

  private fill(bytes: Uint8Array, onSection: (section: Uint8Array) => void): void {
    const partial = this.partial!
    const take = Math.min(bytes.length, partial.length - this.filled)
    partial.set(bytes.subarray(0, take), this.filled)
    this.filled += take
    if (this.filled === partial.length) {
      this.reset()
      onSection(partial)
    }
  }
}

export interface SectionHeader {
  readonly tableId: number
  /** transport_stream_id (PAT) or program_number (PMT). */
  readonly id: number
  readonly version: number
  readonly currentNext: boolean
}

/** The long-form header of a section, or undefined when it is too short to be one. */
export const sectionHeader = (section: Uint8Array): SectionHeader | undefined =>
  section.length < HEADER_LENGTH + CRC_LENGTH || (section[1]! & 0x80) === 0 ? undefined : {
    tableId: section[0]!,
    id: (section[3]! << 8) | section[4]!,
    version: (section[5]! >> 1) & 0x1f,
    currentNext: (section[5]! & 0x01) !== 0
  }

export interface PatProgram {
  readonly programNumber: number
  readonly pmtPid: number
}

/** The programs a PAT lists, without the network PID entry (program_number 0). */
export const parsePat = (section: Uint8Array): Array<PatProgram> => {
  const programs: Array<PatProgram> = []
  for (let at = HEADER_LENGTH; at + 4 <= section.length - CRC_LENGTH; at += 4) {
    const programNumber = (section[at]! << 8) | section[at + 1]!
    const pmtPid = ((section[at + 2]! & 0x1f) << 8) | section[at + 3]!
    if (programNumber !== 0) programs.push({ programNumber, pmtPid })
  }
  return programs
}

export interface PmtStream {
  readonly streamType: number
  readonly pid: number
}

export interface Pmt {
  readonly programNumber: number
  readonly pcrPid: number
  readonly streams: ReadonlyArray<PmtStream>
}

/** The elementary streams a PMT lists, or undefined when its loops overrun the section. */
export const parsePmt = (section: Uint8Array): Pmt | undefined => {
  const end = section.length - CRC_LENGTH
  if (end < HEADER_LENGTH + 4) return undefined
  const pcrPid = ((section[8]! & 0x1f) << 8) | section[9]!
  let at = HEADER_LENGTH + 4 + (((section[10]! & 0x0f) << 8) | section[11]!)
  const streams: Array<PmtStream> = []
  while (at + 5 <= end) {
    const streamType = section[at]!
    const pid = ((section[at + 1]! & 0x1f) << 8) | section[at + 2]!
    at += 5 + (((section[at + 3]! & 0x0f) << 8) | section[at + 4]!)
    if (at > end) return undefined
    streams.push({ streamType, pid })
  }
  return at === end ? { programNumber: (section[3]! << 8) | section[4]!, pcrPid, streams } : undefined
}
