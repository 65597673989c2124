/**
 * Rebuilds a playable MP4 from what a crashed recording left behind: the temp data file and its journal
 * (layout in temp-files.ts). Everything up to the last journaled chunk that is fully on disk is kept.
 */
import * as fsp from "node:fs/promises"
import { Effect } from "effect"
import { type Mp4FileInfo, type Mp4FinalizeOptions, type RecordedTrack, writeMp4File } from "./mp4-file-writer.ts"
import { ioError, Mp4WriteError } from "./mp4-write-error.ts"
import { CHUNK_SAMPLE_BYTES, DATA_START, journalPath, type JournalChunk, readJournal, SYNC_BIT } from "./temp-files.ts"
import { sampleTableFor } from "./track-recording.ts"

export interface RecoverMp4Options extends Mp4FinalizeOptions {
  /** The data file a crashed recording was writing (`Mp4RecorderOptions.tmpPath`). */
  readonly tmpPath: string
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

/**
 * Writes `finalPath` from the leftovers of the recording at `tmpPath` and removes them, exactly as
 * `Mp4Recorder.finalize` would have for the journaled part. Fails with NoSamples when nothing usable is left.
 */
export const recoverMp4 = Effect.fn("recoverMp4")(function*(options: RecoverMp4Options) {
  const { tmpPath } = options
  const idx = journalPath(tmpPath)
  const journal = yield* Effect.tryPromise({ try: () => fsp.readFile(idx), catch: (e) => ioError("read", idx, e) })
  const dataSize = yield* Effect.tryPromise({
    try: () => fsp.stat(tmpPath).then((s) => s.size),
    catch: (e) => ioError("stat", tmpPath, e)
  })
  const records = readJournal(journal)
  const head = records[0]
  if (head === undefined || head.type !== "header") {
    return yield* new Mp4WriteError({ reason: "Corrupt", message: `${idx} has no journal header` })
  }
  const tracks = new Map<number, RecordedTrack>()
  let dataEnd = DATA_START
  for (const record of records.slice(1)) {
    if (record.type === "track") {
      const t = record.track
      tracks.set(t.index, { ...t, samples: sampleTableFor(t.track) })
      continue
    }
    if (record.type !== "chunk") break
    const { chunk } = record
    const track = tracks.get(chunk.trackIndex)
    const end = chunk.offset + chunkBytes(chunk)
    if (track === undefined || chunk.offset !== dataEnd || end > dataSize) break
    if (!addChunk(track, chunk)) break
    dataEnd = end
  }
  const info: Mp4FileInfo = yield* writeMp4File(
    {
      tmpPath,
      dataEnd,
      creationTime: head.header.creationTime,
      movieTimescale: head.header.movieTimescale,
      tracks: [...tracks.entries()].sort(([a], [b]) => a - b).map(([, t]) => t)
    },
    options
  )
  return info
})
