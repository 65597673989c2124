/**
 * Parses a moov box (ISO/IEC 14496-12 8.2-8.7) into what a cut needs per track: timescales, the edit list, the
 * boxes to carry over unchanged (tkhd, mdhd, hdlr, media headers, stsd) and the flat sample index. Pure over
 * the moov's bytes; throws Mp4CutError on a movie it cannot read.
 */
import { Mp4CutError, malformed } from "./mp4-cut-error.ts"
import { expandSampleTables, type SampleIndex, type SampleTableBoxes } from "./mp4-index-tables.ts"

/** One child box: its type and where its whole box and its payload lie in the parsed buffer. */
export interface BoxSpan {
  readonly type: string
  readonly start: number
  readonly payload: number
  readonly end: number
}

/** One elst entry (8.6.6): `mediaTime` -1 is an empty edit; durations are in the movie timescale. */
export interface EditEntry {
  readonly duration: number
  readonly mediaTime: number
  readonly rate: number
}

export interface Mp4TrackIndex {
  readonly trackId: number
  /** hdlr handler_type: "vide", "soun", "text", ... */
  readonly handler: string
  /** mdhd timescale: media ticks per second. */
  readonly timescale: number
  /** The tkhd, mdhd and hdlr boxes as they are in the source (durations are rewritten on output). */
  readonly tkhd: Uint8Array
  readonly mdhd: Uint8Array
  readonly hdlr: Uint8Array
  /** The minf children other than stbl (vmhd/smhd/nmhd, dinf), carried over as they are. */
  readonly mediaHeaders: ReadonlyArray<Uint8Array>
  /** The stsd box as it is: sample entries with their codec configuration. */
  readonly stsd: Uint8Array
  /** The elst entries, empty when the track has no edit list. */
  readonly edits: ReadonlyArray<EditEntry>
  readonly samples: SampleIndex
}

export interface Mp4Movie {
  /** mvhd timescale: movie ticks per second (tkhd and elst durations). */
  readonly timescale: number
  /** mvhd duration, movie ticks. */
  readonly duration: number
  /** The mvhd box as it is (its duration is rewritten on output). */
  readonly mvhd: Uint8Array
  readonly tracks: ReadonlyArray<Mp4TrackIndex>
}

/** The child boxes of `buffer[start, end)` (4.2: 32-bit size, or 1 then a 64-bit largesize, or 0 to the end). */
export const childBoxes = (buffer: Buffer, start: number, end: number): Array<BoxSpan> => {
  const boxes: Array<BoxSpan> = []
  let at = start
  while (at + 8 <= end) {
    let size = buffer.readUInt32BE(at)
    const type = buffer.toString("latin1", at + 4, at + 8)
    let payload = at + 8
    if (size === 1) {
      if (at + 16 > end) throw malformed(`${type} box at ${at} is truncated`)
      size = Number(buffer.readBigUInt64BE(at + 8))
      payload = at + 16
    } else if (size === 0) size = end - at
    if (size < payload - at || at + size > end) throw malformed(`${type} box at ${at} runs past its parent`)
    boxes.push({ type, start: at, payload, end: at + size })
    at += size
  }
  return boxes
}

const find = (boxes: ReadonlyArray<BoxSpan>, type: string): BoxSpan | undefined => boxes.find((b) => b.type === type)

const need = (boxes: ReadonlyArray<BoxSpan>, type: string, parent: string): BoxSpan => {
  const box = find(boxes, type)
  if (box === undefined) throw malformed(`${parent} has no ${type}`)
  return box
}

const raw = (buffer: Buffer, box: BoxSpan): Uint8Array => buffer.subarray(box.start, box.end)

/** The payload after a FullBox's version and flags. */
const fullPayload = (buffer: Buffer, box: BoxSpan | undefined): Buffer | undefined =>
  box === undefined ? undefined : buffer.subarray(box.payload + 4, box.end)

const u64 = (buffer: Buffer, at: number): number => Number(buffer.readBigUInt64BE(at))

/** Timescale and duration of an mvhd or mdhd (8.2.2, 8.4.2): version 1 has 64-bit times. */
const timescaleAndDuration = (buffer: Buffer, box: BoxSpan): { timescale: number; duration: number } => {
  const v1 = buffer[box.payload] === 1
  const at = box.payload + 4 + (v1 ? 16 : 8)
  if (at + (v1 ? 12 : 8) > box.end) throw malformed(`${box.type} is truncated`)
  const timescale = buffer.readUInt32BE(at)
  const duration = v1 ? u64(buffer, at + 4) : buffer.readUInt32BE(at + 4)
  if (timescale === 0) throw malformed(`${box.type} has timescale 0`)
  return { timescale, duration: duration === 0xffff_ffff && !v1 ? 0 : duration }
}

const trackIdOf = (buffer: Buffer, tkhd: BoxSpan): number => {
  const v1 = buffer[tkhd.payload] === 1
  return buffer.readUInt32BE(tkhd.payload + 4 + (v1 ? 16 : 8))
}

/** elst (8.6.6): version 1 has 64-bit segment_duration and media_time; media_rate is 16.16 fixed point. */
const editList = (buffer: Buffer, edts: BoxSpan | undefined): Array<EditEntry> => {
  if (edts === undefined) return []
  const elst = find(childBoxes(buffer, edts.payload, edts.end), "elst")
  if (elst === undefined) return []
  const v1 = buffer[elst.payload] === 1
  const count = buffer.readUInt32BE(elst.payload + 4)
  const entrySize = v1 ? 20 : 12
  if (elst.payload + 8 + count * entrySize > elst.end) throw malformed("elst is truncated")
  const edits: Array<EditEntry> = []
  for (let i = 0, at = elst.payload + 8; i < count; i++, at += entrySize) {
    const duration = v1 ? u64(buffer, at) : buffer.readUInt32BE(at)
    const mediaTime = v1 ? Number(buffer.readBigInt64BE(at + 8)) : buffer.readInt32BE(at + 4)
    const rate = buffer.readInt32BE(at + (v1 ? 16 : 8)) / 0x10000
    edits.push({ duration, mediaTime, rate })
  }
  return edits
}

const parseTrack = (buffer: Buffer, trak: BoxSpan): Mp4TrackIndex => {
  const children = childBoxes(buffer, trak.payload, trak.end)
  const tkhd = need(children, "tkhd", "trak")
  const mdia = need(children, "mdia", "trak")
  const mdiaChildren = childBoxes(buffer, mdia.payload, mdia.end)
  const mdhd = need(mdiaChildren, "mdhd", "mdia")
  const hdlr = need(mdiaChildren, "hdlr", "mdia")
  const minf = need(mdiaChildren, "minf", "mdia")
  const minfChildren = childBoxes(buffer, minf.payload, minf.end)
  const stbl = need(minfChildren, "stbl", "minf")
  const stblChildren = childBoxes(buffer, stbl.payload, stbl.end)
  const table = (type: string) => fullPayload(buffer, find(stblChildren, type))
  const boxes: SampleTableBoxes = {
    stts: table("stts"),
    ctts: table("ctts"),
    stss: table("stss"),
    stsc: table("stsc"),
    stsz: table("stsz"),
    stz2: table("stz2"),
    stco: table("stco"),
    co64: table("co64")
  }
  return {
    trackId: trackIdOf(buffer, tkhd),
    handler: buffer.toString("latin1", hdlr.payload + 8, hdlr.payload + 12),
    timescale: timescaleAndDuration(buffer, mdhd).timescale,
    tkhd: raw(buffer, tkhd),
    mdhd: raw(buffer, mdhd),
    hdlr: raw(buffer, hdlr),
    mediaHeaders: minfChildren.filter((b) => b.type !== "stbl").map((b) => raw(buffer, b)),
    stsd: raw(buffer, need(stblChildren, "stsd", "stbl")),
    edits: editList(buffer, find(children, "edts")),
    samples: expandSampleTables(boxes)
  }
}

/** The movie in `moov` (the whole box, header included). */
export const parseMoov = (moov: Buffer): Mp4Movie => {
  const [box] = childBoxes(moov, 0, moov.length)
  if (box === undefined || box.type !== "moov") throw malformed("not a moov box")
  const children = childBoxes(moov, box.payload, box.end)
  if (find(children, "cmov") !== undefined) {
    throw new Mp4CutError({ reason: "Unsupported", message: "the moov is compressed (cmov)" })
  }
  if (find(children, "mvex") !== undefined) {
    throw new Mp4CutError({ reason: "Unsupported", message: "the movie is fragmented (mvex)" })
  }
  const mvhd = need(children, "mvhd", "moov")
  const { timescale, duration } = timescaleAndDuration(moov, mvhd)
  const tracks = children.filter((b) => b.type === "trak").map((trak) => parseTrack(moov, trak))
  return { timescale, duration, mvhd: raw(moov, mvhd), tracks }
}
