/**
 * Opens a multi-recording: the tracks of an MP4 (from its moov) or of an MKV (through ffprobe), told apart by the
 * file's first bytes (an EBML header is Matroska; anything else is read as ISO BMFF).
 */
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import { readMkvTracks } from "./mkv-tracks.ts"
import { MixerError } from "./mixer-error.ts"
import { readMp4Tracks } from "./mp4-tracks.ts"

/** EBML's magic number (RFC 8794 section 8.1), the first four bytes of every Matroska and WebM file. */
const EBML_MAGIC = 0x1a45dfa3

const isMatroska = async (file: string): Promise<boolean> => {
  const handle = await fsp.open(file, "r")
  try {
    const head = Buffer.alloc(4)
    const { bytesRead } = await handle.read(head, 0, 4, 0)
    return bytesRead === 4 && head.readUInt32BE(0) === EBML_MAGIC
  } finally {
    await handle.close()
  }
}

/** Reads the tracks of a multi-recording, with its path made absolute. */
export const readMultiRecording = Effect.fn("MultiRecording.read")(function*(file: string, ffprobePath: string) {
  const absolute = path.resolve(file)
  const matroska = yield* Effect.tryPromise({
    try: () => isMatroska(absolute),
    catch: (cause) =>
      new MixerError({
        reason: "UnreadableInput",
        message: `${absolute}: ${cause instanceof Error ? cause.message : String(cause)}`
      })
  })
  return matroska ? yield* readMkvTracks(absolute, ffprobePath) : yield* readMp4Tracks(absolute)
})
