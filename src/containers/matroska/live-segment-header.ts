/**
 * Keeps a Matroska file that mediabunny is still writing readable up to its last complete Cluster, should the
 * process die. While recording, mediabunny's Segment header holds provisional values that only finalize fixes:
 * a Segment size covering just the header, and a SeekHead whose positions are all 0 (pointing at itself, which
 * makes demuxers read the header twice). On their way to disk we turn the size into "unknown" and the SeekHead
 * into a Void element; finalize then overwrites both with the real values, which pass through untouched.
 */

/** EBML IDs (RFC 9559 5.1). */
const SEGMENT_ID = 0x18538067
const SEEK_HEAD_ID = 0x114d9b74
const VOID_ID = 0xec

/** mediabunny writes the Segment size as a 6-byte varint; all value bits set means "unknown" (RFC 8794 6.2). */
const SEGMENT_SIZE_BYTES = 6
const UNKNOWN_SIZE_6 = [0x07, 0xff, 0xff, 0xff, 0xff, 0xff]

/** Length of the EBML varint starting with `first` (RFC 8794 4): one plus its leading zero bits. */
const varintLength = (first: number): number => Math.clz32(first) - 23

const readVarint = (data: Uint8Array, at: number, length: number): number => {
  let value = data[at]! & (0xff >> length)
  for (let i = 1; i < length; i++) value = value * 256 + data[at + i]!
  return value
}

export class LiveSegmentHeader {
  private segmentAt = -1
  private live = true

  /** `onEbmlHeader` for MkvOutputFormatOptions: the Segment starts right after the EBML header. */
  readonly onEbmlHeader = (data: Uint8Array, position: number): void => {
    this.segmentAt = position + data.byteLength
  }

  /** From now on the muxer writes final values: let them through. */
  finishing(): void {
    this.live = false
  }

  /** Rewrites, in place, the provisional header fields that `data` (to be written at `position`) contains. */
  patch(data: Uint8Array, position: number): void {
    if (!this.live || this.segmentAt < position) return
    const at = this.segmentAt - position
    const seekHeadAt = at + 4 + SEGMENT_SIZE_BYTES
    if (seekHeadAt + 5 > data.byteLength) return
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
    if (view.getUint32(at) !== SEGMENT_ID) return
    data.set(UNKNOWN_SIZE_6, at + 4)
    if (view.getUint32(seekHeadAt) !== SEEK_HEAD_ID) return
    const sizeLength = varintLength(data[seekHeadAt + 4]!)
    const total = 4 + sizeLength + readVarint(data, seekHeadAt + 4, sizeLength)
    if (sizeLength > 8 || total < 5 || seekHeadAt + total > data.byteLength) return
    // A Void element of the same length: 1-byte ID, 4-byte size, zeros.
    data[seekHeadAt] = VOID_ID
    view.setUint32(seekHeadAt + 1, 0x1000_0000 | (total - 5))
    data.fill(0, seekHeadAt + 5, seekHeadAt + total)
  }
}
