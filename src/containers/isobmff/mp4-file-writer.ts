/**
 * Turns a temp data file plus its sample tables into the final MP4, for each data layout (data-layout.ts):
 * plain moov first by copying the media behind the moov, plain moov last and reserved in place (no media copy),
 * split by concatenating header and data. Never leaves a partial file under the final name (file-moves.ts), and
 * records in the journal which file finalize is writing before it starts, for crash recovery.
 */
import * as fsp from "node:fs/promises"
import { Effect } from "effect"
import type { TrackKind } from "../../media/frame.ts"
import { ByteWriter } from "./byte-writer.ts"
import {
  dataStartOf,
  freeBoxHeader,
  headerPathOf,
  mdatHeaderAt,
  pendingHeaderPathOf,
  REGION_AT
} from "./data-layout.ts"
import { editedDuration } from "./edit-list.ts"
import { io, moveFile, removeFile, writeComposed } from "./file-moves.ts"
import { planLayout, reservedMdatHeader } from "./final-layout.ts"
import { FTYP } from "./moov.ts"
import { Mp4WriteError } from "./mp4-write-error.ts"
import { maxOffsetOf, movieOf, type RecordedMedia, recordedTracks, reservedMoov } from "./recorded-media.ts"
import { fitsReservation, writeRegion } from "./reserved-region.ts"
import { journalPath, writeFinalizingRecord } from "./temp-files.ts"

export type { RecordedMedia, RecordedTrack } from "./recorded-media.ts"

export interface Mp4FinalizeOptions {
  readonly finalPath: string
  /** moov before mdat so the file plays while downloading (mp4_container_moov_first). Default true. A reserved
   * layout always puts the moov in its region when it fits. */
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
  /** Whether the moov precedes the mdat; false too when a moov outgrew its reservation and went to the end. */
  readonly moovFirst: boolean
  readonly tracks: ReadonlyArray<Mp4TrackInfo>
}

/** Appends the 'F' record naming `finalPath` to the journal of `tmpPath` (after `validLength` bytes). */
const journalFinalizing = (tmpPath: string, finalPath: string, validLength: number | undefined) => {
  const file = journalPath(tmpPath)
  const w = new ByteWriter(256)
  writeFinalizingRecord(w, finalPath)
  return io("append", file, () =>
    fsp.open(file, "r+").then((handle) =>
      (validLength === undefined ? handle.stat().then((s) => s.size) : Promise.resolve(validLength))
        .then((at) => handle.truncate(at).then(() => handle.write(w.bytes, 0, w.length, at)))
        .finally(() => handle.close())
    ))
}

/** Reserved and plain moov last: finish the data file where it is (mdat size, moov), then move it. */
const finishInPlace = Effect.fn("Mp4File.finishInPlace")(function*(
  media: RecordedMedia,
  finalPath: string,
  moov: Uint8Array,
  inRegion: boolean,
  mdatHeader: Uint8Array
) {
  const { tmpPath, layout } = media
  const file = yield* io("open", tmpPath, () => fsp.open(tmpPath, "r+"))
  yield* Effect.gen(function*() {
    yield* io("truncate", tmpPath, () => file.truncate(media.dataEnd))
    yield* io("write", tmpPath, () => file.write(mdatHeader, 0, mdatHeader.length, mdatHeaderAt(layout)))
    if (inRegion && layout._tag === "Reserved") {
      yield* writeRegion(file.fd, tmpPath, moov, layout.reservedBytes)
    } else {
      if (layout._tag === "Reserved") {
        const free = freeBoxHeader(layout.reservedBytes)
        yield* io("write", tmpPath, () => file.write(free, 0, 8, REGION_AT))
      }
      yield* io("write", tmpPath, () => file.write(moov, 0, moov.length, media.dataEnd))
    }
    yield* io("fsync", tmpPath, () => file.sync())
  }).pipe(Effect.ensuring(Effect.promise(() => file.close())))
  yield* moveFile(tmpPath, finalPath)
  return inRegion ? media.dataEnd : media.dataEnd + moov.length
})

/**
 * Writes the final file for `media` and removes the temp data file, its journal and (split) its header file.
 * `journalLength` is the intact prefix of a journal being recovered, where the 'F' record then goes.
 */
export const writeMp4File = Effect.fn("Mp4File.write")(function*(
  media: RecordedMedia,
  options: Mp4FinalizeOptions,
  journalLength?: number
) {
  const tracks = recordedTracks(media)
  if (tracks.length === 0) {
    return yield* new Mp4WriteError({ reason: "NoSamples", message: `nothing was recorded in ${media.tmpPath}` })
  }
  const { finalPath } = options
  const force = options.forceLargeOffsets ?? false
  const { layout, tmpPath } = media
  const movie = movieOf(media, tracks)
  const dataStart = dataStartOf(layout)
  const payload = media.dataEnd - dataStart
  yield* journalFinalizing(tmpPath, finalPath, journalLength)
  let bytes: number
  let moovFirst: boolean
  if (layout._tag === "Reserved") {
    const moov = reservedMoov(media, force)
    moovFirst = fitsReservation(moov.length, layout.reservedBytes)
    const header = reservedMdatHeader(payload, force || 16 + payload > 0xffff_ffff)
    bytes = yield* finishInPlace(media, finalPath, moov, moovFirst, header)
  } else {
    moovFirst = options.moovFirst ?? true
    const plan = planLayout(movie, payload, maxOffsetOf(tracks), moovFirst, force, dataStart)
    const [ftyp, moov, mdat] = [{ bytes: FTYP }, { bytes: plan.moov }, { bytes: plan.mdatHeader }]
    const mediaRange = { source: tmpPath, start: dataStart, end: media.dataEnd }
    if (moovFirst) bytes = yield* writeComposed(finalPath, [ftyp, moov, mdat, mediaRange])
    else if (layout._tag === "Plain") bytes = yield* finishInPlace(media, finalPath, plan.moov, false, plan.mdatHeader)
    else bytes = yield* writeComposed(finalPath, [ftyp, mdat, mediaRange, moov])
    yield* removeFile(tmpPath)
  }
  if (layout._tag === "Split") {
    const header = headerPathOf(tmpPath)
    yield* removeFile(header)
    yield* removeFile(pendingHeaderPathOf(header))
  }
  yield* removeFile(journalPath(tmpPath))
  const durations = movie.tracks.map((t) => editedDuration(t.edits) / movie.timescale)
  return {
    path: finalPath,
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
