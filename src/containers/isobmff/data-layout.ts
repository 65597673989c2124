/**
 * Where the header boxes and the media sit in the data file of an MP4 recording in progress, for each way the moov
 * is written (mp4_container_moov_first_reserve_space, mp4_container_write_header_on_fly). Chunk offsets recorded
 * while recording are data-file offsets; each layout says how they map into the final file.
 *
 *   Plain     0 ftyp (32) | 32 free (8) + mdat (8, size 0) | 48 media          moov written at finalize
 *   Reserved  0 ftyp (32) | 32 reserved region: free (R) | 32+R free (8) + mdat (8, size 0) | 48+R media
 *             the moov is written into the region (moov + free for the rest): offsets are final as recorded
 *   Split     0 free (8) + mdat (8, size 0) | 16 media                           the data file is `NAME.tmp`,
 *             and `NAME.header` holds ftyp + moov with offsets for the data file appended after it
 * The 16 bytes before the media become, at the end, one mdat header with a 64-bit size or free + a 32-bit mdat
 * header (ISO/IEC 14496-12 4.2, 8.1.1); an mdat of size 0 runs to the end of the file, so the file parses (and with
 * a moov, plays) at every moment.
 */
import { FTYP } from "./moov.ts"

export type DataLayout =
  | { readonly _tag: "Plain" }
  | { readonly _tag: "Reserved"; readonly reservedBytes: number }
  | { readonly _tag: "Split" }

export const PLAIN: DataLayout = { _tag: "Plain" }

/** Where the reserved region starts: right after the ftyp. */
export const REGION_AT = FTYP.length
/** Bytes kept before the media for the final mdat header. */
export const MDAT_HEADER_BYTES = 16
/** Offset of the first media byte in the plain layout. */
export const DATA_START = FTYP.length + MDAT_HEADER_BYTES
/** The smallest reservation: the region must hold at least a free box header. */
export const MIN_RESERVED_BYTES = 8

/** Offset of the 16 bytes kept for the mdat header. */
export const mdatHeaderAt = (layout: DataLayout): number => {
  switch (layout._tag) {
    case "Plain":
      return FTYP.length
    case "Reserved":
      return REGION_AT + layout.reservedBytes
    case "Split":
      return 0
  }
}

/** Offset of the first media byte in the data file. */
export const dataStartOf = (layout: DataLayout): number => mdatHeaderAt(layout) + MDAT_HEADER_BYTES

/** A `free` box header (8 bytes) for a box of `size` bytes. */
export const freeBoxHeader = (size: number): Buffer => {
  const header = Buffer.alloc(8)
  header.writeUInt32BE(size, 0)
  header.write("free", 4, "latin1")
  return header
}

/** The data file's bytes before the media: ftyp (unless split), the reserved region, free + mdat of size 0. */
export const dataFileHeader = (layout: DataLayout = PLAIN): Buffer => {
  const at = mdatHeaderAt(layout)
  const header = Buffer.alloc(at + MDAT_HEADER_BYTES)
  if (layout._tag !== "Split") header.set(FTYP, 0)
  if (layout._tag === "Reserved") freeBoxHeader(layout.reservedBytes).copy(header, REGION_AT)
  freeBoxHeader(8).copy(header, at)
  header.writeUInt32BE(0, at + 8)
  header.write("mdat", at + 12, "latin1")
  return header
}

/** The header file of a split recording: `X.mp4.tmp` -> `X.mp4.header`, as the manual names the pair. */
export const headerPathOf = (tmpPath: string): string =>
  tmpPath.endsWith(".tmp") ? `${tmpPath.slice(0, -4)}.header` : `${tmpPath}.header`

/** The data files a header file can belong to (inverse of `headerPathOf`): `X.header` -> `X.tmp`, else `X`. */
export const dataPathsOfHeader = (headerPath: string): ReadonlyArray<string> => {
  const stem = headerPath.endsWith(".header") ? headerPath.slice(0, -7) : headerPath
  return [`${stem}.tmp`, stem]
}

/** Where a new header file is written before it is renamed over the old one. */
export const pendingHeaderPathOf = (headerPath: string): string => `${headerPath}.new`
