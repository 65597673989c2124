/**
 * Cuts a time range out of a progressive MP4 without re-encoding (manual, "Downloading and playing a certain part
 * of a recording file"): reads the source's index (mp4-index.ts), keeps the samples mp4-cut-plan.ts selects and
 * copies only their bytes, in large blocks, into a new moov-first MP4. The cost follows the cut, not the file.
 * The cut is written to `target.part`, fsynced and renamed, so `target` is never partial.
 */
import { constants as fsConstants } from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import { FTYP } from "./moov.ts"
import { cutIoError, Mp4CutError } from "./mp4-cut-error.ts"
import { layoutCut } from "./mp4-cut-layout.ts"
import { buildCutMoov } from "./mp4-cut-moov.ts"
import { type CutPlan, planCut } from "./mp4-cut-plan.ts"
import { type Mp4Index, readMp4IndexFrom } from "./mp4-index.ts"

/** Copy block: one read and one write per 4 MiB of media, so a 10 s cut of 3 Mbit/s video is a single round. */
const COPY_BLOCK = 4 * 1024 * 1024
const U32_MAX = 0xffff_ffff

export interface CutMp4Options {
  readonly source: string
  readonly target: string
  /** Seconds; the cut starts at the keyframe at or before it. Absent: from the beginning. */
  readonly start?: number | undefined
  /** Seconds; the cut keeps frames presented before it. Absent: to the end. */
  readonly end?: number | undefined
}

export interface CutTrackInfo {
  readonly handler: string
  readonly samples: number
  readonly durationSeconds: number
}

export interface CutMp4Result {
  readonly path: string
  readonly bytes: number
  /** Source time, seconds, of the cut's first presented frame (the keyframe at or before `start`). */
  readonly startSeconds: number
  readonly endSeconds: number
  readonly durationSeconds: number
  readonly tracks: ReadonlyArray<CutTrackInfo>
  /** Bytes read from the source: its box headers, ftyp and moov, then the kept samples. */
  readonly sourceBytesRead: number
}

const io = <A>(action: string, file: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => cutIoError(action, file, cause) })

/** An mdat header (4.2): 8 bytes with a 32-bit size, or 16 with size 1 and a 64-bit largesize. */
const mdatHeader = (payload: number): Buffer => {
  const large = 8 + payload > U32_MAX
  const header = Buffer.alloc(large ? 16 : 8)
  header.writeUInt32BE(large ? 1 : 8 + payload, 0)
  header.write("mdat", 4, "latin1")
  if (large) header.writeBigUInt64BE(BigInt(16 + payload), 8)
  return header
}

/** Copies `ranges` of `source` one after the other to `target` from `position`, in blocks of COPY_BLOCK. */
const copyRanges = Effect.fn("Mp4Cut.copyRanges")(function*(
  source: fsp.FileHandle,
  sourcePath: string,
  target: fsp.FileHandle,
  targetPath: string,
  ranges: Float64Array,
  rangeCount: number,
  position: number,
  payloadBytes: number
) {
  const block = Buffer.allocUnsafe(Math.max(1, Math.min(COPY_BLOCK, payloadBytes)))
  let filled = 0
  let written = position
  const flush = Effect.suspend(() => {
    const length = filled
    const at = written
    filled = 0
    written += length
    return io("write", targetPath, () => target.write(block, 0, length, at))
  })
  for (let r = 0; r < rangeCount; r++) {
    let offset = ranges[2 * r]!
    let remaining = ranges[2 * r + 1]!
    while (remaining > 0) {
      const want = Math.min(remaining, block.length - filled)
      const { bytesRead } = yield* io("read", sourcePath, () => source.read(block, filled, want, offset))
      if (bytesRead === 0) {
        return yield* new Mp4CutError({
          reason: "Malformed",
          message: `${sourcePath}: a sample at ${offset} lies past the end of the file`
        })
      }
      filled += bytesRead
      offset += bytesRead
      remaining -= bytesRead
      if (filled === block.length) yield* flush
    }
  }
  if (filled > 0) yield* flush
  return written - position
})

const syncDirectory = (dir: string) =>
  io("fsync", dir, () =>
    fsp.open(dir, fsConstants.O_RDONLY).then((handle) => handle.sync().finally(() => handle.close())))

const resultOf = (plan: CutPlan, file: string, bytes: number, sourceBytesRead: number): CutMp4Result => ({
  path: file,
  bytes,
  sourceBytesRead,
  startSeconds: plan.startSeconds,
  endSeconds: plan.endSeconds,
  durationSeconds: plan.duration / plan.movieTimescale,
  tracks: plan.tracks.map((t) => ({
    handler: t.track.handler,
    samples: t.last - t.first + 1,
    durationSeconds: t.duration / plan.movieTimescale
  }))
})

/** Writes the cut of the indexed `source` to `target.part`, fsyncs it and renames it to `target`. */
const writeCut = Effect.fn("Mp4Cut.write")(function*(
  index: Mp4Index,
  source: fsp.FileHandle,
  options: CutMp4Options
) {
  const plan = yield* Effect.try({
    try: () => planCut(index, { start: options.start, end: options.end }),
    catch: (cause) =>
      cause instanceof Mp4CutError ? cause : new Mp4CutError({ reason: "Malformed", message: String(cause) })
  })
  const layout = layoutCut(plan)
  const ftyp = index.ftyp ?? FTYP
  const header = mdatHeader(layout.payloadBytes)
  const moov = buildCutMoov(plan, layout.chunks, index.mvhd, ftyp.length, header.length, layout.payloadBytes)
  const part = `${options.target}.part`
  const head = Buffer.concat([ftyp, moov.bytes, header])
  const { ranges, rangeCount, payloadBytes } = layout
  const copied = yield* Effect.gen(function*() {
    const target = yield* io("open", part, () => fsp.open(part, "w"))
    const copied = yield* Effect.gen(function*() {
      yield* io("write", part, () => target.write(head, 0, head.length, 0))
      const copied = yield* copyRanges(source, index.path, target, part, ranges, rangeCount, head.length, payloadBytes)
      yield* io("fsync", part, () => target.sync())
      return copied
    }).pipe(Effect.ensuring(Effect.promise(() => target.close())))
    yield* io("rename", part, () => fsp.rename(part, options.target))
    return copied
  }).pipe(Effect.onError(() => Effect.promise(() => fsp.rm(part, { force: true }))))
  yield* syncDirectory(path.dirname(options.target))
  return resultOf(plan, options.target, head.length + layout.payloadBytes, index.bytesRead + copied)
})

/**
 * Cuts `options.source` to [start, end) into `options.target` (see mp4-cut-plan.ts for which frames are kept).
 * Reads the source's box headers, its moov and the kept samples' bytes, nothing else.
 */
export const cutMp4 = Effect.fn("Mp4Cut.cut")(function*(options: CutMp4Options) {
  const source = yield* io("open", options.source, () => fsp.open(options.source, "r"))
  return yield* Effect.gen(function*() {
    const index = yield* readMp4IndexFrom(source, options.source)
    return yield* writeCut(index, source, options)
  }).pipe(Effect.ensuring(Effect.promise(() => source.close())))
})
