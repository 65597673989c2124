/**
 * Reads the index of a progressive MP4 without touching its media: the top-level box headers (ISO/IEC 14496-12
 * 4.2, 32- or 64-bit sizes) are read one by one at their offsets, then the moov alone, wherever it lies (before or
 * after the mdat), and is parsed into per-track sample arrays (mp4-index-moov.ts).
 */
import * as fsp from "node:fs/promises"
import { Effect } from "effect"
import { cutIoError, Mp4CutError, malformed } from "./mp4-cut-error.ts"
import { type Mp4Movie, parseMoov } from "./mp4-index-moov.ts"

export type { EditEntry, Mp4Movie, Mp4TrackIndex } from "./mp4-index-moov.ts"
export type { SampleIndex } from "./mp4-index-tables.ts"

/** A top-level box of the file. */
export interface TopLevelBox {
  readonly type: string
  readonly offset: number
  readonly size: number
}

export interface Mp4Index extends Mp4Movie {
  readonly path: string
  readonly fileSize: number
  /** The ftyp box as it is in the file, if it has one. */
  readonly ftyp: Uint8Array | undefined
  /** The top-level boxes in file order (their headers only were read). */
  readonly boxes: ReadonlyArray<TopLevelBox>
  /** Bytes read from the file to build this index: box headers, ftyp and moov. */
  readonly bytesRead: number
}

/** A moov larger than this is refused rather than read (an hour of 1080p30 + AAC has about 3 MB). */
const MAX_MOOV_BYTES = 512 * 1024 * 1024
/** An ftyp larger than this is not a real one. */
const MAX_FTYP_BYTES = 4096
/** Top-level boxes scanned before giving up: progressive files have a handful. */
const MAX_TOP_LEVEL_BOXES = 10_000

/** Reads at an offset; counts into `tally`. */
const read = (handle: fsp.FileHandle, path: string, length: number, position: number, tally: { bytes: number }) =>
  Effect.tryPromise({
    try: () => {
      const buffer = Buffer.allocUnsafe(length)
      return handle.read(buffer, 0, length, position).then(({ bytesRead }) => {
        tally.bytes += bytesRead
        return buffer.subarray(0, bytesRead)
      })
    },
    catch: (cause) => cutIoError("read", path, cause)
  })

/** The top-level boxes of a file of `fileSize` bytes, from their headers alone. */
const scanTopLevel = Effect.fn("Mp4Index.scanTopLevel")(function*(
  handle: fsp.FileHandle,
  path: string,
  fileSize: number,
  tally: { bytes: number }
) {
  const boxes: Array<TopLevelBox> = []
  let offset = 0
  while (offset + 8 <= fileSize) {
    if (boxes.length === MAX_TOP_LEVEL_BOXES) {
      return yield* malformed(`more than ${MAX_TOP_LEVEL_BOXES} top-level boxes`)
    }
    const header = yield* read(handle, path, 16, offset, tally)
    if (header.length < 8) break
    let size = header.readUInt32BE(0)
    const type = header.toString("latin1", 4, 8)
    if (size === 1) {
      if (header.length < 16) return yield* malformed(`the ${type} box at ${offset} is truncated`)
      size = Number(header.readBigUInt64BE(8))
    } else if (size === 0) size = fileSize - offset
    if (size < 8) return yield* malformed(`box size ${size} at offset ${offset}`)
    boxes.push({ type, offset, size: Math.min(size, fileSize - offset) })
    offset += size
  }
  return boxes
})

/** The index of the MP4 open as `handle`: box layout, movie and per-track sample arrays; no media is read. */
export const readMp4IndexFrom = Effect.fn("Mp4Index.read")(function*(handle: fsp.FileHandle, path: string) {
  const stat = yield* Effect.tryPromise({ try: () => handle.stat(), catch: (cause) => cutIoError("stat", path, cause) })
  const fileSize = stat.size
  const tally = { bytes: 0 }
  const boxes = yield* scanTopLevel(handle, path, fileSize, tally)
  const moov = boxes.find((b) => b.type === "moov")
  if (moov === undefined) {
    const fragmented = boxes.some((b) => b.type === "moof")
    return yield* (fragmented
      ? new Mp4CutError({ reason: "Unsupported", message: `${path} is a fragmented MP4 without a moov` })
      : malformed(`${path} has no moov box (not an MP4, or still being written)`))
  }
  if (moov.size > MAX_MOOV_BYTES) {
    return yield* new Mp4CutError({ reason: "Unsupported", message: `the moov of ${path} has ${moov.size} bytes` })
  }
  const moovBytes = yield* read(handle, path, moov.size, moov.offset, tally)
  if (moovBytes.length < moov.size) return yield* malformed(`the moov of ${path} is truncated`)
  const movie = yield* Effect.try({
    try: () => parseMoov(moovBytes),
    catch: (cause) => (cause instanceof Mp4CutError ? cause : malformed(`${path}: ${String(cause)}`))
  })
  const ftypBox = boxes.find((b) => b.type === "ftyp" && b.size <= MAX_FTYP_BYTES)
  const ftyp = ftypBox === undefined ? undefined : yield* read(handle, path, ftypBox.size, ftypBox.offset, tally)
  return { ...movie, path, fileSize, ftyp, boxes, bytesRead: tally.bytes } satisfies Mp4Index
})

/** Opens `path`, reads its index and closes it. */
export const readMp4Index = (path: string): Effect.Effect<Mp4Index, Mp4CutError> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({ try: () => fsp.open(path, "r"), catch: (cause) => cutIoError("open", path, cause) }),
    (handle) => readMp4IndexFrom(handle, path),
    (handle) => Effect.promise(() => handle.close())
  )
