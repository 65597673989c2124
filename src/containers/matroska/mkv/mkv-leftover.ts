/**
 * Completes an MKV that our writer left unfinished when the process died: the file plays as it is up to its last
 * whole Cluster, but has no Duration, no Cues (so players cannot seek) and a Segment of unknown size. This cuts a
 * Cluster the crash tore, then adds what finalize would have: Cues for every video key frame (for each Cluster
 * when there is no video), the Duration, the SeekHead's Cues entry and the Segment's size. Files that are not
 * ours, or already complete, are left untouched.
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import { ContainerWriteError } from "../../../pipelines/container-format.ts"
import { toWriteError } from "../positioned-file.ts"
import { ID, master, padded, sizeBytes } from "./ebml.ts"
import { cuePoint, info, MKV_APP, seekHead } from "./mkv-layout.ts"

export interface CompletedLeftover {
  readonly durationSeconds: number
  readonly clusters: number
  /** Bytes of a torn Cluster cut from the end. */
  readonly cutBytes: number
}

/** A frame's length when its track has a single frame to judge by (a 30 fps video frame). */
const FALLBACK_FRAME_SECONDS = 1 / 30
const HEADER_READ_BYTES = 256 * 1024

interface Element {
  readonly id: number
  /** Where the element starts, and where its data starts and ends (absolute file offsets). */
  readonly at: number
  readonly dataAt: number
  readonly end: number
}

/** An EBML element header at `at` in `bytes` (which start at file offset `base`); undefined if cut short. */
const readHeader = (bytes: Uint8Array, at: number, base: number): Element | undefined => {
  const idLength = Math.clz32(bytes[at] ?? 0) - 23
  if (idLength < 1 || idLength > 4 || at + idLength >= bytes.byteLength) return undefined
  let id = 0
  for (let i = 0; i < idLength; i++) id = id * 256 + bytes[at + i]!
  const sizeAt = at + idLength
  const sizeLength = Math.clz32(bytes[sizeAt] ?? 0) - 23
  if (sizeLength < 1 || sizeLength > 8 || sizeAt + sizeLength > bytes.byteLength) return undefined
  let size = bytes[sizeAt]! & (0xff >> sizeLength)
  let unknown = size === 0xff >> sizeLength
  for (let i = 1; i < sizeLength; i++) {
    size = size * 256 + bytes[sizeAt + i]!
    unknown &&= bytes[sizeAt + i] === 0xff
  }
  const dataAt = base + sizeAt + sizeLength
  return { id, at: base + at, dataAt, end: unknown ? Number.POSITIVE_INFINITY : dataAt + size }
}

const children = (bytes: Uint8Array, base: number, from: number, to: number): Array<Element> => {
  const out: Array<Element> = []
  for (let at = from; at < to;) {
    const child = readHeader(bytes, at - base, base)
    if (child === undefined || child.end > to) break
    out.push(child)
    at = child.end
  }
  return out
}

const uintAt = (bytes: Uint8Array, element: Element, base: number): number => {
  let value = 0
  for (let i = element.dataAt - base; i < element.end - base; i++) value = value * 256 + bytes[i]!
  return value
}

const readAt = (fd: number, position: number, length: number): Uint8Array => {
  const out = new Uint8Array(length)
  const read = fs.readSync(fd, out, 0, length, position)
  return out.subarray(0, read)
}

/** Completes `filePath` in place; fails with "NotOurs" for a file our writer did not leave unfinished. */
export const completeMkvLeftover = (filePath: string): Effect.Effect<CompletedLeftover, ContainerWriteError> =>
  Effect.try({
    try: () => {
      const fd = fs.openSync(filePath, "r+")
      try {
        return complete(fd, fs.fstatSync(fd))
      } finally {
        fs.closeSync(fd)
      }
    },
    catch: (cause) => toWriteError(`complete ${filePath}`, cause)
  })

const notOurs = (why: string) => new ContainerWriteError(`not an unfinished Capstan MKV: ${why}`, "NotOurs")

const complete = (fd: number, stats: fs.Stats): CompletedLeftover => {
  const head = readAt(fd, 0, HEADER_READ_BYTES)
  const ebml = readHeader(head, 0, 0)
  if (ebml?.id !== ID.EBML) throw notOurs("no EBML header")
  const segment = readHeader(head, ebml.end, 0)
  if (segment?.id !== ID.Segment) throw notOurs("no Segment")
  if (segment.end !== Number.POSITIVE_INFINITY) throw notOurs("its Segment has a size: it was finalized")
  const segmentStart = segment.dataAt
  // The header regions: SeekHead, Info and Tracks, each followed by its Void padding, then the first Cluster.
  const regions = new Map<number, Element>()
  let at = segmentStart
  let firstCluster = -1
  while (at < head.byteLength) {
    const element = readHeader(head, at, 0)
    if (element === undefined || element.end === Number.POSITIVE_INFINITY) break
    if (element.id === ID.Cluster) {
      firstCluster = element.at
      break
    }
    if (element.id !== ID.Void) regions.set(element.id, element)
    at = element.end
  }
  const infoElement = regions.get(ID.Info)
  const tracks = regions.get(ID.Tracks)
  const seek = regions.get(ID.SeekHead)
  if (infoElement === undefined || tracks === undefined || seek === undefined || tracks.end > head.byteLength) {
    throw notOurs("no SeekHead, Info and Tracks at its start")
  }
  if (!new TextDecoder().decode(head.subarray(infoElement.dataAt, infoElement.end)).includes(MKV_APP)) {
    throw notOurs(`not written by ${MKV_APP}`)
  }
  const date = children(head, 0, infoElement.dataAt, infoElement.end).find((f) => f.id === ID.DateUTC)
  const dateUtcNs = date === undefined ? 0 : uintAt(head, date, 0)
  // Track types by number, from the Tracks element.
  const videoTracks = new Set<number>()
  for (const entry of children(head, 0, tracks.dataAt, tracks.end)) {
    const fields = children(head, 0, entry.dataAt, entry.end)
    const number = fields.find((f) => f.id === ID.TrackNumber)
    const type = fields.find((f) => f.id === ID.TrackType)
    if (number === undefined || type === undefined) continue
    if (uintAt(head, type, 0) === 1) videoTracks.add(uintAt(head, number, 0))
  }

  // Every whole Cluster: its CuePoint (when it starts with a key frame) and the times of its blocks.
  const cues: Array<{ readonly timeMs: number; readonly track: number; readonly clusterPosition: number }> = []
  const lastTimes = new Map<number, { last: number; step: number }>()
  let clusters = 0
  let end = firstCluster < 0 ? tracks.end : firstCluster
  for (let position = end; position < stats.size;) {
    const header = readHeader(readAt(fd, position, 12), 0, position)
    if (header?.id !== ID.Cluster || header.end > stats.size) break
    const bytes = readAt(fd, position, header.end - position)
    const parts = children(bytes, position, header.dataAt, header.end)
    const timestamp = parts.find((p) => p.id === ID.Timestamp)
    if (timestamp === undefined) break
    const clusterMs = uintAt(bytes, timestamp, position)
    let first = true
    const points: Array<{ timeMs: number; track: number }> = []
    for (const block of parts) {
      if (block.id !== ID.SimpleBlock) continue
      const b = block.dataAt - position
      const numberLength = Math.clz32(bytes[b]!) - 23
      let track = bytes[b]! & (0xff >> numberLength)
      for (let i = 1; i < numberLength; i++) track = track * 256 + bytes[b + i]!
      const view = new DataView(bytes.buffer, bytes.byteOffset)
      const timeMs = clusterMs + view.getInt16(b + numberLength)
      const key = (bytes[b + numberLength + 2]! & 0x80) !== 0
      // As the writer does: every video key frame, or each Cluster's first block without video.
      if (key && (videoTracks.size === 0 ? first : videoTracks.has(track))) points.push({ timeMs, track })
      first = false
      const seen = lastTimes.get(track)
      lastTimes.set(track, seen === undefined ? { last: timeMs, step: 0 } : {
        last: Math.max(seen.last, timeMs),
        step: timeMs > seen.last ? timeMs - seen.last : seen.step
      })
    }
    for (const point of points) cues.push({ ...point, clusterPosition: position - segmentStart })
    clusters++
    position = header.end
    end = position
  }
  if (clusters === 0) throw notOurs("no whole Cluster")
  let durationSeconds = 0
  for (const { last, step } of lastTimes.values()) {
    durationSeconds = Math.max(durationSeconds, last / 1000 + (step > 0 ? step / 1000 : FALLBACK_FRAME_SECONDS))
  }

  const cutBytes = stats.size - end
  fs.ftruncateSync(fd, end)
  cues.sort((a, b) => a.timeMs - b.timeMs)
  const cuesElement = master(ID.Cues, cues.map((c) => cuePoint(Math.max(0, c.timeMs), c.track, c.clusterPosition)))
  fs.writeSync(fd, cuesElement, 0, cuesElement.byteLength, end)
  const infoRegion = padded(info(dateUtcNs, durationSeconds), tracks.at - infoElement.at)
  const seekRegion = padded(seekHead({
    info: infoElement.at - segmentStart,
    tracks: tracks.at - segmentStart,
    cues: end - segmentStart
  }), infoElement.at - seek.at)
  if (infoRegion === undefined || seekRegion === undefined) throw notOurs("its header regions are too small")
  fs.writeSync(fd, infoRegion, 0, infoRegion.byteLength, infoElement.at)
  fs.writeSync(fd, seekRegion, 0, seekRegion.byteLength, seek.at)
  const segmentSize = sizeBytes(end + cuesElement.byteLength - segmentStart, 8)
  fs.writeSync(fd, segmentSize, 0, 8, segmentStart - 8)
  fs.fsyncSync(fd)
  return { durationSeconds, clusters, cutBytes }
}
