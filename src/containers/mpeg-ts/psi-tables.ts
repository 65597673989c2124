/**
 * The program tables of a single-program transport stream (ISO/IEC 13818-1 2.4.4): the PAT naming the PMT's PID,
 * and the PMT listing the elementary streams and the PID that carries the PCR. Both end with the MPEG-2 CRC-32.
 *
 *   table_id | '1' '0' '11' section_length(12) | id(16) | '11' version(5) current_next(1) | section | last_section
 *   PAT: program_number(16) | '111' program_map_PID(13)
 *   PMT: '111' PCR_PID(13) | '1111' program_info_length(12)
 *        | { stream_type | '111' elementary_PID(13) | '1111' ES_info_length(12) }...
 */
import { crc32Mpeg } from "../../media/crc32-mpeg.ts"

/** stream_type values (2.4.4.9, table 2-34). */
export const STREAM_TYPE_H264 = 0x1b
export const STREAM_TYPE_AAC_ADTS = 0x0f

const PROGRAM_NUMBER = 1
const TRANSPORT_STREAM_ID = 1


/** A long-form section: the 8-byte header, `body`, then the CRC over everything before it. */
const section = (tableId: number, id: number, body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(8 + body.byteLength + 4)
  const view = new DataView(out.buffer)
  out[0] = tableId
  view.setUint16(1, 0xb000 | (out.byteLength - 3)) // section_syntax_indicator 1, '0', reserved '11'
  view.setUint16(3, id)
  out[5] = 0xc1 // reserved '11', version 0, current_next_indicator 1
  out[6] = 0 // section_number
  out[7] = 0 // last_section_number
  out.set(body, 8)
  view.setUint32(out.byteLength - 4, crc32Mpeg(out.subarray(0, out.byteLength - 4)))
  return out
}

export const patSection = (pmtPid: number): Uint8Array => {
  const body = new Uint8Array(4)
  const view = new DataView(body.buffer)
  view.setUint16(0, PROGRAM_NUMBER)
  view.setUint16(2, 0xe000 | pmtPid)
  return section(0x00, TRANSPORT_STREAM_ID, body)
}

export interface ProgramStream {
  readonly streamType: number
  readonly pid: number
}

export const pmtSection = (pcrPid: number, streams: ReadonlyArray<ProgramStream>): Uint8Array => {
  const body = new Uint8Array(4 + 5 * streams.length)
  const view = new DataView(body.buffer)
  view.setUint16(0, 0xe000 | pcrPid)
  view.setUint16(2, 0xf000) // program_info_length 0
  streams.forEach((stream, i) => {
    body[4 + 5 * i] = stream.streamType
    view.setUint16(5 + 5 * i, 0xe000 | stream.pid)
    view.setUint16(7 + 5 * i, 0xf000) // ES_info_length 0
  })
  return section(0x02, PROGRAM_NUMBER, body)
}
