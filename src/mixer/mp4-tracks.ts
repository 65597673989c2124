/**
 * The tracks of an MP4 multi-recording, read from its moov with mp4box: ids, codecs, sizes, the hdlr names that
 * say whose stream a track is (track-name.ts), and the timeline from each track's edit list (ISO/IEC 14496-12
 * 8.6.6: an entry with media_time -1 is an empty edit, i.e. a pause). Only ftyp and moov are read into memory.
 */
import * as fsp from "node:fs/promises"
import { Effect } from "effect"
import { createFile, type Movie, MP4BoxBuffer } from "mp4box"
import { parseAudioSpecificConfig } from "../media/aac-config.ts"
import { MixerError } from "./mixer-error.ts"
import { parseTrackName } from "./track-name.ts"
import type { MultiRecording, TrackEdit, TrackInfo } from "./tracks-info.ts"

interface TopBox {
  readonly type: string
  readonly offset: number
  readonly size: number
}

const unreadable = (file: string, why: string) =>
  new MixerError({ reason: "UnreadableInput", message: `${file}: ${why}` })

/** The top-level boxes (size, type, 64-bit largesize, size 0 = to the end of the file). */
const topLevelBoxes = async (handle: fsp.FileHandle): Promise<Array<TopBox>> => {
  const total = (await handle.stat()).size
  const header = Buffer.alloc(16)
  const boxes: Array<TopBox> = []
  let offset = 0
  while (offset + 8 <= total) {
    await handle.read(header, 0, 16, offset)
    let size = header.readUInt32BE(0)
    const type = header.toString("latin1", 4, 8)
    if (size === 1) size = Number(header.readBigUInt64BE(8))
    else if (size === 0) size = total - offset
    if (size < 8) break
    boxes.push({ type, offset, size })
    offset += size
  }
  return boxes
}

/** ftyp followed by moov, as one buffer mp4box can parse without the media data. */
const readHeaderBoxes = async (file: string): Promise<ArrayBuffer | string> => {
  const handle = await fsp.open(file, "r")
  try {
    const boxes = await topLevelBoxes(handle)
    const ftyp = boxes.find((box) => box.type === "ftyp")
    const moov = boxes.find((box) => box.type === "moov")
    if (moov === undefined) return "no moov box (not an MP4, or a recording that was never finalized)"
    const parts = ftyp === undefined ? [moov] : [ftyp, moov]
    const out = new Uint8Array(parts.reduce((sum, box) => sum + box.size, 0))
    let at = 0
    for (const box of parts) {
      await handle.read(out, at, box.size, box.offset)
      at += box.size
    }
    return out.buffer
  } finally {
    await handle.close()
  }
}

interface ParsedMoov {
  readonly info: Movie
  readonly creationTime: number
  readonly traks: ReadonlyArray<{
    readonly handlerName: string
    readonly edits: ReadonlyArray<ElstEntry> | undefined
    /** AAC's AudioSpecificConfig, which knows the channels (ffmpeg writes 2 in every mp4a sample entry). */
    readonly audioConfig: Uint8Array | undefined
  }>
}

interface ElstEntry {
  readonly segment_duration: number
  readonly media_time: number
}

/** The DecoderSpecificInfo (tag 5, ISO/IEC 14496-1 7.2.6.7) inside an mp4a entry's esds, if any. */
const audioSpecificConfig = (entry: unknown): Uint8Array | undefined => {
  const esd = (entry as { esds?: { esd?: { descs?: ReadonlyArray<{ descs?: ReadonlyArray<unknown> }> } } }).esds?.esd
  const info = esd?.descs?.[0]?.descs?.find((d) => (d as { tag?: number }).tag === 5)
  return (info as { data?: Uint8Array } | undefined)?.data
}

const parseMoov = (bytes: ArrayBuffer): ParsedMoov | string => {
  const iso = createFile()
  let info: Movie | undefined
  iso.onReady = (movie) => (info = movie)
  iso.appendBuffer(MP4BoxBuffer.fromArrayBuffer(bytes, 0))
  iso.flush()
  const moov = iso.moov
  if (info === undefined || moov === undefined) return "the moov box could not be parsed"
  return {
    info,
    creationTime: moov.mvhd.creation_time,
    traks: moov.traks.map((trak) => ({
      handlerName: trak.mdia.hdlr.name,
      edits: trak.edts?.elst?.entries,
      audioConfig: audioSpecificConfig(trak.mdia.minf.stbl.stsd.entries[0])
    }))
  }
}

/**
 * A track's timeline from its edit list, in ms: empty edits are pauses, the others media. A track without an edit
 * list plays its media from 0. A media edit of duration 0 lasts to the end of the media.
 */
export const editsOfTrack = (
  entries: ReadonlyArray<ElstEntry> | undefined,
  movieTimescale: number,
  mediaDurationMs: number
): ReadonlyArray<TrackEdit> => {
  if (entries === undefined || entries.length === 0) return [{ startInMs: 0, endInMs: mediaDurationMs, type: "media" }]
  const edits: Array<TrackEdit> = []
  let cursor = 0
  for (const entry of entries) {
    const pause = entry.media_time === -1
    const length = entry.segment_duration > 0 || pause
      ? (entry.segment_duration * 1000) / movieTimescale
      : mediaDurationMs
    edits.push({ startInMs: cursor, endInMs: cursor + length, type: pause ? "pause" : "media" })
    cursor += length
  }
  return edits
}

const trackInfo = (parsed: ParsedMoov, index: number): TrackInfo | undefined => {
  const track = parsed.info.tracks[index]!
  const trak = parsed.traks[index]!
  const video = track.video !== undefined && track.type !== "audio"
  if (!video && track.audio === undefined) return undefined
  const owner = parseTrackName(trak.handlerName)
  const asc = trak.audioConfig === undefined ? undefined : parseAudioSpecificConfig(trak.audioConfig)
  const mediaDurationMs = (track.duration * 1000) / track.timescale
  const trackEdits = editsOfTrack(trak.edits, parsed.info.timescale, mediaDurationMs)
  const common = {
    trackId: track.id,
    streamIndex: index,
    streamName: owner?.streamName ?? trak.handlerName,
    mediaSessionId: owner?.mediaSessionId ?? `track-${track.id}`,
    durationInMS: trackEdits.at(-1)?.endInMs ?? 0,
    timescale: track.timescale,
    trackCodec: track.codec.split(".")[0]!,
    trackEdits
  }
  return video
    ? {
      ...common,
      trackType: "VIDEO",
      width: track.video!.width,
      height: track.video!.height,
      frameRate: track.duration > 0 ? (track.nb_samples * track.timescale) / track.duration : 0
    }
    : {
      ...common,
      trackType: "AUDIO",
      channels: asc?.channels || track.audio!.channel_count,
      sampleRate: asc?.sampleRate || track.audio!.sample_rate
    }
}

/** Reads an MP4 multi-recording's moov. Tracks that are neither audio nor video are left out. */
export const readMp4Tracks = Effect.fn("TracksInfo.readMp4")(function*(file: string) {
  const bytes = yield* Effect.tryPromise({
    try: () => readHeaderBoxes(file),
    catch: (cause) => unreadable(file, cause instanceof Error ? cause.message : String(cause))
  })
  if (typeof bytes === "string") return yield* unreadable(file, bytes)
  const parsed = yield* Effect.try({
    try: () => parseMoov(bytes),
    catch: (cause) => unreadable(file, `mp4box: ${cause instanceof Error ? cause.message : String(cause)}`)
  })
  if (typeof parsed === "string") return yield* unreadable(file, parsed)
  const tracks = parsed.info.tracks.flatMap((_, index) => trackInfo(parsed, index) ?? [])
  return {
    file,
    container: "mp4",
    durationInMs: Math.max(0, ...tracks.map((track) => track.durationInMS)),
    creationTime: parsed.creationTime,
    tracks
  } satisfies MultiRecording
})
