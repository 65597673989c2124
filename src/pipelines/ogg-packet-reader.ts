/**
 * Reads the packets of an Ogg stream (RFC 3533) as the bytes arrive, in whatever pieces a pipe delivers them: the
 * reverse of ogg-opus-writer.ts, used on ffmpeg's Ogg Opus output. Pages are checked (capture pattern, version,
 * CRC); bytes that do not start a page are skipped up to the next "OggS", and a damaged page is skipped whole,
 * together with the packet it interrupts. One logical stream is expected, so serial numbers are not told apart.
 */
import { oggCrc } from "./ogg-opus-writer.ts"
import { concatBytes } from "../media/bytes.ts"

const EMPTY = new Uint8Array(0)
const PAGE_HEADER = 27
/** header_type_flag (RFC 3533 6): the page's first packet continues one from the previous page. */
const CONTINUED = 0x01

export interface OggPacket {
  readonly data: Uint8Array
  /** The granule position of the page this packet ends on, or -1 when another packet ends after it there. */
  readonly granule: number
}

const isCapture = (data: Uint8Array, at: number): boolean =>
  data[at] === 0x4f && data[at + 1] === 0x67 && data[at + 2] === 0x67 && data[at + 3] === 0x53

export class OggPacketReader {
  /** Bytes of an incomplete page carried over to the next chunk. */
  #rest: Uint8Array = EMPTY
  /** The parts of a packet that continues on the next page. */
  #partial: Array<Uint8Array> = []
  /** Bytes skipped while looking for a page. */
  skippedBytes = 0
  /** Pages skipped because their CRC did not match. */
  badPages = 0
  /** Packets lost to a damaged or missing page (a continuation without its start, a start without its end). */
  lostPackets = 0

  /** Calls `onPacket` with each packet completed by `chunk` (and the bytes held from before), copies outliving it. */
  push(chunk: Uint8Array, onPacket: (packet: OggPacket) => void): void {
    const data = this.#rest.length > 0 ? concatBytes([this.#rest, chunk]) : chunk
    let offset = 0
    while (offset + PAGE_HEADER <= data.length) {
      if (!isCapture(data, offset) || data[offset + 4] !== 0) {
        offset++
        this.skippedBytes++
        continue
      }
      const segments = data[offset + 26]!
      const table = offset + PAGE_HEADER
      if (table + segments > data.length) break
      let bodyLength = 0
      for (let i = 0; i < segments; i++) bodyLength += data[table + i]!
      const end = table + segments + bodyLength
      if (end > data.length) break
      const page = data.subarray(offset, end)
      if (!this.#crcMatches(page)) {
        // A false "OggS" inside a packet fails here too: look for the next page one byte on.
        this.badPages++
        this.#dropPartial()
        offset++
        this.skippedBytes++
        continue
      }
      this.#readPage(page, segments, onPacket)
      offset = end
    }
    this.#rest = offset >= data.length ? EMPTY : data.slice(offset)
  }

  /** Bytes held that do not make a whole page (at the end of the stream: a truncated last page). */
  get pendingBytes(): number {
    return this.#rest.length
  }

  #crcMatches(page: Uint8Array): boolean {
    const view = new DataView(page.buffer, page.byteOffset, page.byteLength)
    const stored = view.getUint32(22, true)
    const copy = page.slice()
    copy.fill(0, 22, 26)
    return oggCrc(copy) === stored
  }

  #dropPartial(): void {
    if (this.#partial.length === 0) return
    this.#partial = []
    this.lostPackets++
  }

  #readPage(page: Uint8Array, segments: number, onPacket: (packet: OggPacket) => void): void {
    const view = new DataView(page.buffer, page.byteOffset, page.byteLength)
    const granule = Number(view.getBigInt64(6, true))
    const continued = (page[5]! & CONTINUED) !== 0
    // A packet cut off by a lost page cannot be completed; a continuation whose start was lost is skipped.
    let skipping = continued && this.#partial.length === 0
    if (!continued) this.#dropPartial()
    if (skipping) this.lostPackets++
    // The last segment below 255 ends the last packet completed on this page: that packet gets the granule.
    let lastEnd = -1
    for (let i = 0; i < segments; i++) if (page[PAGE_HEADER + i]! < 255) lastEnd = i
    let at = PAGE_HEADER + segments
    let start = at
    for (let i = 0; i < segments; i++) {
      const lace = page[PAGE_HEADER + i]!
      at += lace
      if (lace === 255) continue
      if (!skipping) {
        this.#partial.push(page.subarray(start, at))
        onPacket({ data: this.#takePartial(), granule: i === lastEnd ? granule : -1 })
      }
      skipping = false
      start = at
    }
    // Segments of 255 up to the end: the packet goes on on the next page.
    if (start < at && !skipping) this.#partial.push(page.slice(start, at))
  }

  #takePartial(): Uint8Array {
    const parts = this.#partial
    this.#partial = []
    return parts.length === 1 ? parts[0]!.slice() : concatBytes(parts)
  }
}
