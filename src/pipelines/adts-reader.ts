/**
 * Splits a byte stream of ADTS frames (ISO/IEC 13818-7 6.2, headers read by media/aac-adts.ts) into raw AAC access
 * units as the bytes arrive, in whatever pieces a pipe delivers them. Bytes that do not start a frame are skipped up
 * to the next syncword and counted.
 */
import { type AdtsHeader, parseAdtsHeader } from "../media/aac-adts.ts"
import { concatBytes } from "../media/bytes.ts"

const EMPTY = new Uint8Array(0)

export class AdtsReader {
  /** Bytes of an incomplete frame carried over to the next chunk. */
  #rest: Uint8Array = EMPTY
  /** Bytes skipped while looking for a syncword. */
  skippedBytes = 0

  /**
   * Calls `onFrame` with each whole frame in `chunk` (and the bytes held from before) and keeps the incomplete tail.
   * The payload handed out is a copy, so it outlives the pipe's buffer.
   */
  push(chunk: Uint8Array, onFrame: (payload: Uint8Array, header: AdtsHeader) => void): void {
    const data = this.#rest.length > 0 ? concatBytes([this.#rest, chunk]) : chunk
    let offset = 0
    while (offset + 7 <= data.length) {
      const header = parseAdtsHeader(data, offset)
      if (header === undefined) {
        offset++
        this.skippedBytes++
        continue
      }
      if (offset + header.frameLength > data.length) break
      onFrame(data.slice(offset + header.headerLength, offset + header.frameLength), header)
      offset += header.frameLength
    }
    this.#rest = offset >= data.length ? EMPTY : data.slice(offset)
  }

  /** Bytes held that do not make a whole frame (at the end of the stream: a truncated last frame). */
  get pendingBytes(): number {
    return this.#rest.length
  }
}
