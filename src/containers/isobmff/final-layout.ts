/**
 * Where the boxes of a finished MP4 go: moov before or after mdat, stco or co64 (ISO/IEC 14496-12 8.7.5), and
 * a 32- or 64-bit mdat size (4.2). Pure, so the >4 GiB decisions are testable without writing 4 GiB.
 */
import { DATA_START, MDAT_HEADER_BYTES } from "./data-layout.ts"
import { buildMoov, FTYP, type Movie, shiftChunkOffsets } from "./moov.ts"

const U32_MAX = 0xffff_ffff

export interface FinalLayout {
  /** The moov with chunk offsets pointing into the final file. */
  readonly moov: Uint8Array
  /** Bytes between ftyp and the media when moov is first (an mdat header of 8 or 16 bytes); when moov is last,
   * the 16 bytes that replace the data file's reserved header (free + small mdat header, or a large one). */
  readonly mdatHeader: Uint8Array
  /** How far the media moves from its data-file offset. */
  readonly shift: number
  readonly wideOffsets: boolean
  readonly largeMdat: boolean
}

/** An mdat header for `payload` media bytes: 8 bytes with a 32-bit size, or 16 with size 1 and a 64-bit largesize. */
export const mdatHeader = (payload: number, large: boolean): Buffer => {
  const header = Buffer.alloc(large ? 16 : 8)
  header.writeUInt32BE(large ? 1 : 8 + payload, 0)
  header.write("mdat", 4, "latin1")
  if (large) header.writeBigUInt64BE(BigInt(16 + payload), 8)
  return header
}

/** The data file's 16 reserved header bytes, finalized: one large mdat header, or `free` then a small one. */
export const reservedMdatHeader = (payload: number, large: boolean): Buffer => {
  if (large) return mdatHeader(payload, true)
  const header = Buffer.alloc(16)
  header.writeUInt32BE(8, 0)
  header.write("free", 4, "latin1")
  mdatHeader(payload, false).copy(header, 8)
  return header
}

/**
 * Lays out `movie` over `payload` media bytes whose chunks sit at data-file offsets up to `maxChunkOffset`, the
 * media starting at `dataStart` in the data file. Moov last, the final file is ftyp, the 16 reserved bytes, the
 * media and the moov (for the plain layout exactly the data file, so nothing moves); moov first it is ftyp, moov,
 * an mdat header and the media. co64 is chosen exactly when some final offset exceeds 2^32-1 (or `force`), and the
 * 64-bit mdat size when the mdat would exceed it.
 */
export const planLayout = (
  movie: Movie,
  payload: number,
  maxChunkOffset: number,
  moovFirst: boolean,
  force: boolean,
  dataStart: number = DATA_START
): FinalLayout => {
  const largeMdat = force || 16 + payload > U32_MAX
  if (!moovFirst) {
    const shift = FTYP.length + MDAT_HEADER_BYTES - dataStart
    const wideOffsets = force || maxChunkOffset + shift > U32_MAX
    const built = buildMoov(movie, wideOffsets)
    shiftChunkOffsets(built, shift)
    const mdatHeader = reservedMdatHeader(payload, largeMdat)
    return { moov: built.writer.bytes, mdatHeader, shift, wideOffsets, largeMdat }
  }
  const header = mdatHeader(payload, largeMdat)
  let wideOffsets = force
  let built = buildMoov(movie, wideOffsets)
  let shift = FTYP.length + built.writer.length + header.length - dataStart
  if (!wideOffsets && maxChunkOffset + shift > U32_MAX) {
    wideOffsets = true
    built = buildMoov(movie, true)
    shift = FTYP.length + built.writer.length + header.length - dataStart
  }
  shiftChunkOffsets(built, shift)
  return { moov: built.writer.bytes, mdatHeader: header, shift, wideOffsets, largeMdat }
}
