/**
 * Turns a temp data file plus its sample tables into the final MP4, moov first (progressive download) or last.
 * Never leaves a partial file under the final name: the file is completed and fsynced elsewhere, then renamed.
 */
import { constants as fsConstants } from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import type { Track, TrackKind } from "../../media/frame.ts"
import { editedDuration, planEdits } from "./edit-list.ts"
import { planLayout } from "./final-layout.ts"
import { FTYP, type Movie } from "./moov.ts"
import { ioError, Mp4WriteError } from "./mp4-write-error.ts"
import { maxChunkOffset } from "./sample-table-boxes.ts"
import type { SampleTable } from "./sample-table.ts"
import { DATA_START, journalPath, MDAT_HEADER_AT } from "./temp-files.ts"

/** Copy block for moving media behind a moov: few syscalls, yet small enough for 100 finalizes at once. */
const COPY_BLOCK = 1024 * 1024

export interface RecordedTrack {
  readonly track: Track
  readonly mediaTimescale: number
  readonly samples: SampleTable
  readonly presentationStart: number
  readonly startOffset: number | undefined
}

/** What a recording left in its temp data file. */
export interface RecordedMedia {
  readonly tmpPath: string
  /** End of the last complete chunk in the data file. */
  readonly dataEnd: number
  /** Unix epoch milliseconds. */
  readonly creationTime: number
  readonly movieTimescale: number
  readonly tracks: ReadonlyArray<RecordedTrack>
}

export interface Mp4FinalizeOptions {
  readonly finalPath: string
  /** moov before mdat so the file plays while downloading (mp4_container_moov_first). Default true. */
  readonly moovFirst?: boolean
  /** Use co64 and a 64-bit mdat size even for small files (tests of the >4 GiB layout). */
  readonly forceLargeOffsets?: boolean
}

export interface Mp4TrackInfo {
  readonly kind: TrackKind
  readonly samples: number
  readonly durationSeconds: number
}

export interface Mp4FileInfo {
  readonly path: string
  readonly bytes: number
  readonly durationSeconds: number
  readonly moovFirst: boolean
  readonly tracks: ReadonlyArray<Mp4TrackInfo>
}

const io = <A>(action: string, file: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => ioError(action, file, cause) })

const movieOf = (media: RecordedMedia, tracks: ReadonlyArray<RecordedTrack>): Movie => {
  const edits = planEdits(
    tracks.map((t) => ({
      presentationStart: t.presentationStart,
      startOffset: t.startOffset,
      firstCompositionOffset: t.samples.compositionOffset(0),
      presentationEnd: t.samples.presentationEnd(),
      mediaTimescale: t.mediaTimescale
    })),
    media.movieTimescale
  )
  return {
    creationTime: media.creationTime,
    timescale: media.movieTimescale,
    tracks: tracks.map((t, i) => ({
      track: t.track,
      mediaTimescale: t.mediaTimescale,
      samples: t.samples,
      edits: edits[i]!
    }))
  }
}

const copyRange = Effect.fn("Mp4File.copyRange")(function*(
  from: fsp.FileHandle,
  to: fsp.FileHandle,
  start: number,
  end: number,
  target: number,
  file: string
) {
  const block = Buffer.allocUnsafe(Math.min(COPY_BLOCK, Math.max(1, end - start)))
  let position = start
  while (position < end) {
    const want = Math.min(block.length, end - position)
    const { bytesRead } = yield* io("read", file, () => from.read(block, 0, want, position))
    if (bytesRead === 0) {
      return yield* new Mp4WriteError({ reason: "Io", message: `read ${file}: unexpected end of file` })
    }
    yield* io("write", file, () => to.write(block, 0, bytesRead, target + position - start))
    position += bytesRead
  }
})

const syncDirectory = (dir: string) =>
  io("fsync", dir, () =>
    fsp.open(dir, fsConstants.O_RDONLY).then((handle) => handle.sync().finally(() => handle.close())))

/** Writes `parts` then the media range into `finalPath + ".part"`, fsyncs, renames, fsyncs the directory. */
const writeByCopy = Effect.fn("Mp4File.writeByCopy")(function*(
  media: RecordedMedia,
  finalPath: string,
  head: ReadonlyArray<Uint8Array>,
  tail: ReadonlyArray<Uint8Array>
) {
  const part = `${finalPath}.part`
  const source = yield* io("open", media.tmpPath, () => fsp.open(media.tmpPath, "r"))
  const write = Effect.gen(function*() {
    const target = yield* io("open", part, () => fsp.open(part, "w"))
    yield* Effect.gen(function*() {
      let position = 0
      for (const bytes of head) {
        yield* io("write", part, () => target.write(bytes, 0, bytes.length, position))
        position += bytes.length
      }
      yield* copyRange(source, target, DATA_START, media.dataEnd, position, part)
      position += media.dataEnd - DATA_START
      for (const bytes of tail) {
        yield* io("write", part, () => target.write(bytes, 0, bytes.length, position))
        position += bytes.length
      }
      yield* io("fsync", part, () => target.sync())
    }).pipe(Effect.ensuring(Effect.promise(() => target.close())))
    yield* io("rename", part, () => fsp.rename(part, finalPath))
  })
  yield* write.pipe(
    Effect.ensuring(Effect.promise(() => source.close())),
    Effect.onError(() => Effect.promise(() => fsp.rm(part, { force: true })))
  )
  yield* io("remove", media.tmpPath, () => fsp.rm(media.tmpPath, { force: true }))
})

/** moov last, same filesystem: patch the mdat header and append the moov to the temp file itself, then rename it. */
const writeInPlace = Effect.fn("Mp4File.writeInPlace")(function*(
  media: RecordedMedia,
  finalPath: string,
  header: Uint8Array,
  moov: Uint8Array
) {
  const file = yield* io("open", media.tmpPath, () => fsp.open(media.tmpPath, "r+"))
  yield* Effect.gen(function*() {
    yield* io("truncate", media.tmpPath, () => file.truncate(media.dataEnd))
    yield* io("write", media.tmpPath, () => file.write(header, 0, header.length, MDAT_HEADER_AT))
    yield* io("write", media.tmpPath, () => file.write(moov, 0, moov.length, media.dataEnd))
    yield* io("fsync", media.tmpPath, () => file.sync())
  }).pipe(Effect.ensuring(Effect.promise(() => file.close())))
  yield* io("rename", media.tmpPath, () => fsp.rename(media.tmpPath, finalPath))
})

const sameFilesystem = (a: string, b: string) =>
  io("stat", a, () =>
    Promise.all([fsp.stat(path.dirname(a)), fsp.stat(path.dirname(b))]).then(([sa, sb]) => sa.dev === sb.dev))

/** Writes the final file for `media` and removes the temp data file and journal. */
export const writeMp4File = Effect.fn("Mp4File.write")(function*(media: RecordedMedia, options: Mp4FinalizeOptions) {
  const tracks = media.tracks.filter((t) => t.samples.sampleCount > 0)
  if (tracks.length === 0) {
    return yield* new Mp4WriteError({ reason: "NoSamples", message: `nothing was recorded in ${media.tmpPath}` })
  }
  const moovFirst = options.moovFirst ?? true
  const movie = movieOf(media, tracks)
  const payload = media.dataEnd - DATA_START
  const maxOffset = Math.max(...tracks.map((t) => maxChunkOffset(t.samples)))
  const layout = planLayout(movie, payload, maxOffset, moovFirst, options.forceLargeOffsets ?? false)
  if (moovFirst) {
    yield* writeByCopy(media, options.finalPath, [FTYP, layout.moov, layout.mdatHeader], [])
  } else if (yield* sameFilesystem(media.tmpPath, options.finalPath)) {
    yield* writeInPlace(media, options.finalPath, layout.mdatHeader, layout.moov)
  } else {
    yield* writeByCopy(media, options.finalPath, [FTYP, layout.mdatHeader], [layout.moov])
  }
  const bytes = FTYP.length + layout.moov.length + layout.mdatHeader.length + payload
  yield* syncDirectory(path.dirname(options.finalPath))
  yield* io("remove", journalPath(media.tmpPath), () => fsp.rm(journalPath(media.tmpPath), { force: true }))
  const durations = movie.tracks.map((t) => editedDuration(t.edits) / movie.timescale)
  return {
    path: options.finalPath,
    bytes,
    durationSeconds: Math.max(...durations),
    moovFirst,
    tracks: tracks.map((t) => ({
      kind: t.track.kind,
      samples: t.samples.sampleCount,
      durationSeconds: t.samples.mediaDuration / t.mediaTimescale
    }))
  } satisfies Mp4FileInfo
})
