/**
 * Rebuilds a playable MP4 from the journal a crashed recording left beside its data file (temp-files.ts), for every
 * data layout. Everything up to the last journaled chunk that is fully on disk is kept.
 */
import * as fsp from "node:fs/promises"
import { Effect } from "effect"
import { dataStartOf } from "./data-layout.ts"
import { type Mp4FileInfo, type Mp4FinalizeOptions, writeMp4File } from "./mp4-file-writer.ts"
import { ioError, Mp4WriteError } from "./mp4-write-error.ts"
import { editedDuration } from "./edit-list.ts"
import { movieOf, type RecordedMedia, recordedTracks, type RecordedTrack, sampleCountOf } from "./recorded-media.ts"
import {
  CHUNK_SAMPLE_BYTES,
  journalPath,
  type JournalChunk,
  type JournalHeader,
  readJournalPrefix,
  SYNC_BIT
} from "./temp-files.ts"
import { sampleTableFor } from "./track-recording.ts"

export interface RecoverMp4Options extends Mp4FinalizeOptions {
  /** The data file a crashed recording was writing (`Mp4RecorderOptions.tmpPath`). */
  readonly tmpPath: string
}

/** What a journal says, checked against the data file. */
export interface JournaledRecording {
  readonly header: JournalHeader
  /** The recorded media up to the last chunk that is whole in the data file; `dataEnd` ends it. */
  readonly media: RecordedMedia
  readonly samples: number
  /** Duration of the file the journal gives, seconds. */
  readonly durationSeconds: number
  /** The file finalize was writing when the recording stopped, if it had started ('F' record). */
  readonly finalizing: string | undefined
  /** Length of the intact prefix of the journal. */
  readonly journalLength: number
}

/** Appends a journaled chunk to its track's table; false (and nothing added) when its decode times go backwards. */
const addChunk = (track: RecordedTrack, chunk: JournalChunk): boolean => {
  const { samples } = track
  const decodeTime = (i: number) => chunk.baseDecodeTime + chunk.samples.readUInt32BE(i * CHUNK_SAMPLE_BYTES + 4)
  let previous = samples.sampleCount > 0 ? samples.lastDecodeTime : 0
  for (let i = 0; i < chunk.count; i++) {
    if (decodeTime(i) < previous) return false
    previous = decodeTime(i)
  }
  for (let i = 0; i < chunk.count; i++) {
    const word = chunk.samples.readUInt32BE(i * CHUNK_SAMPLE_BYTES)
    const offset = chunk.samples.readInt32BE(i * CHUNK_SAMPLE_BYTES + 8)
    samples.add(word & ~SYNC_BIT, decodeTime(i), offset, (word & SYNC_BIT) !== 0)
  }
  samples.addChunk(chunk.offset, chunk.count)
  return true
}

const chunkBytes = (chunk: JournalChunk): number => {
  let bytes = 0
  for (let i = 0; i < chunk.count; i++) bytes += chunk.samples.readUInt32BE(i * CHUNK_SAMPLE_BYTES) & ~SYNC_BIT
  return bytes
}

/** The size of `file`, or undefined when it does not exist. */
export const sizeOf = (file: string) =>
  Effect.tryPromise({ try: () => fsp.stat(file).then((s) => s.size), catch: (e) => ioError("stat", file, e) }).pipe(
    Effect.catchIf((e) => /ENOENT/.test(e.message), () => Effect.succeed(undefined))
  )

/**
 * Reads the journal of the recording at `tmpPath` and replays it against the data file (`dataSize` bytes, 0 when
 * it is gone). Fails with Io when the journal cannot be read and Corrupt when it has no header.
 */
export const readJournaledRecording = Effect.fn("recoverMp4.readJournal")(function*(
  tmpPath: string,
  dataSize: number
) {
  const idx = journalPath(tmpPath)
  const bytes = yield* Effect.tryPromise({ try: () => fsp.readFile(idx), catch: (e) => ioError("read", idx, e) })
  const { records, length } = readJournalPrefix(bytes)
  const head = records[0]
  if (head === undefined || head.type !== "header") {
    return yield* new Mp4WriteError({ reason: "Corrupt", message: `${idx} has no journal header` })
  }
  const tracks = new Map<number, RecordedTrack>()
  const finalizing = records.findLast((r) => r.type === "finalizing")
  let dataEnd = dataStartOf(head.header.layout)
  let open = true
  for (const record of records.slice(1)) {
    if (!open || record.type === "finalizing") continue
    if (record.type === "track") {
      const t = record.track
      tracks.set(t.index, { ...t, samples: sampleTableFor(t.track) })
      continue
    }
    if (record.type !== "chunk") {
      open = false
      continue
    }
    const { chunk } = record
    const track = tracks.get(chunk.trackIndex)
    const end = chunk.offset + chunkBytes(chunk)
    if (track === undefined || chunk.offset !== dataEnd || end > dataSize || !addChunk(track, chunk)) {
      open = false
      continue
    }
    dataEnd = end
  }
  const ordered = [...tracks.entries()].sort(([a], [b]) => a - b).map(([, t]) => t)
  const media: RecordedMedia = {
    tmpPath,
    layout: head.header.layout,
    dataEnd,
    creationTime: head.header.creationTime,
    movieTimescale: head.header.movieTimescale,
    tracks: ordered
  }
  const recorded = recordedTracks(media)
  const movie = movieOf(media, recorded)
  const durations = movie.tracks.map((t) => editedDuration(t.edits) / movie.timescale)
  return {
    header: head.header,
    media,
    samples: sampleCountOf(ordered),
    durationSeconds: Math.max(0, ...durations),
    finalizing: finalizing?.type === "finalizing" ? finalizing.finalPath : undefined,
    journalLength: length
  } satisfies JournaledRecording
})

/**
 * Writes `finalPath` from the leftovers of the recording at `tmpPath` and removes them, exactly as
 * `Mp4Recorder.finalize` would have for the journaled part. Fails with NoSamples when nothing usable is left.
 */
export const recoverMp4 = Effect.fn("recoverMp4")(function*(options: RecoverMp4Options) {
  const dataSize = yield* sizeOf(options.tmpPath)
  if (dataSize === undefined) {
    return yield* new Mp4WriteError({ reason: "Io", message: `${options.tmpPath}: the data file is missing` })
  }
  const journaled = yield* readJournaledRecording(options.tmpPath, dataSize)
  const info: Mp4FileInfo = yield* writeMp4File(journaled.media, options, journaled.journalLength)
  return info
})
