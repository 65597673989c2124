/**
 * Crash recovery of everything one MP4 recording can leave behind, named by its data file `NAME.tmp`: the journal
 * `NAME.tmp.idx`, a split recording's `NAME.header` (and a `.header.new` being replaced), and a data file whose
 * reserved region holds a moov written on the fly. `inspectLeftover` says what each source would give; recovery
 * uses the journal when it holds at least as many samples as the last header, else the header.
 */
import * as fsp from "node:fs/promises"
import { Effect } from "effect"
import { dataPathsOfHeader, headerPathOf, MDAT_HEADER_BYTES, pendingHeaderPathOf } from "./data-layout.ts"
import { io, moveFile, removeFile, writeComposed } from "./file-moves.ts"
import { reservedMdatHeader } from "./final-layout.ts"
import { readMoov } from "./moov-reader.ts"
import { writeMp4File } from "./mp4-file-writer.ts"
import { Mp4WriteError } from "./mp4-write-error.ts"
import { type JournaledRecording, readJournaledRecording, sizeOf } from "./mp4-recovery.ts"
import { journalPath } from "./temp-files.ts"

/** A playable header found in the leftovers, and what it covers. */
export interface LeftoverHeader {
  readonly kind: "split" | "in-file"
  readonly samples: number
  readonly durationSeconds: number
  /** Split: the header file's bytes (ftyp + moov). In file: where the mdat box starts, and whether the moov follows
   * the mdat (a finalize in place that did not get to rename). */
  readonly bytes: Buffer | undefined
  readonly mdatAt: number
  readonly moovLast: boolean
  /** End of the media the header references, in data-file offsets. */
  readonly dataEnd: number
}

export interface Mp4Leftover {
  readonly tmpPath: string
  /** The files of this recording that exist. */
  readonly files: ReadonlyArray<string>
  readonly dataSize: number | undefined
  readonly journal: JournaledRecording | undefined
  /** Why the journal cannot be used, when there is one. */
  readonly journalProblem: string | undefined
  readonly header: LeftoverHeader | undefined
  readonly streamName: string
  /** Unix ms when recording began (the journal's creation time), if known. */
  readonly creationTime: number | undefined
}

/** The data file a leftover file belongs to: `X.tmp.idx` -> `X.tmp`, `X.header` -> `X.tmp` (or `X`). */
export const dataPathOf = Effect.fn("Leftover.dataPathOf")(function*(file: string) {
  if (file.endsWith(".idx")) return file.slice(0, -4)
  const header = file.endsWith(".header.new") ? file.slice(0, -4) : file.endsWith(".header") ? file : undefined
  if (header === undefined) return file
  const [withTmp, bare] = dataPathsOfHeader(header)
  return (yield* sizeOf(withTmp!)) !== undefined || (yield* sizeOf(bare!)) === undefined ? withTmp! : bare!
})

const readRange = (file: string, at: number, bytes: number) =>
  io("read", file, () =>
    fsp.open(file, "r").then((handle) =>
      handle.read(Buffer.alloc(bytes), 0, bytes, at).then((r) => r.buffer.subarray(0, r.bytesRead))
        .finally(() => handle.close())
    ))

const parse = <A>(what: string, run: () => A) =>
  Effect.try({ try: run, catch: (e) => new Mp4WriteError({ reason: "Corrupt", message: `${what}: ${e}` }) })

/** A split recording's header file: ftyp + moov whose media follows in the data file of `dataSize` bytes. */
const splitHeaderOf = Effect.fn("Leftover.splitHeader")(function*(headerPath: string, dataSize: number) {
  const bytes = yield* io("read", headerPath, () => fsp.readFile(headerPath))
  if (bytes.length < 8 || bytes.toString("latin1", 4, 8) !== "ftyp") {
    return yield* new Mp4WriteError({ reason: "Corrupt", message: `${headerPath} does not start with an ftyp` })
  }
  const ftyp = bytes.readUInt32BE(0)
  const summary = yield* parse(headerPath, () => readMoov(bytes.subarray(ftyp)))
  const dataEnd = summary.dataEnd - bytes.length
  if (summary.dataBegin < bytes.length + MDAT_HEADER_BYTES || dataEnd > dataSize) {
    return yield* new Mp4WriteError({ reason: "Corrupt", message: `${headerPath} references missing media` })
  }
  const header: LeftoverHeader = {
    kind: "split",
    samples: summary.samples,
    durationSeconds: summary.durationSeconds,
    bytes,
    mdatAt: 0,
    moovLast: false,
    dataEnd
  }
  return header
})

/**
 * The moov among the top-level boxes of an MP4 data file (before the mdat, or after one that has a size), when it
 * is whole and all the media it references is in the file.
 */
export const inFileHeaderOf = Effect.fn("Leftover.inFileHeader")(function*(file: string, size: number) {
  const head = yield* readRange(file, 0, 16)
  if (head.length < 8 || head.toString("latin1", 4, 8) !== "ftyp") return undefined
  let at = 0
  let mdatAt = -1
  let mdatEnd = 0
  while (at + 8 <= size) {
    const box = yield* readRange(file, at, 16)
    let boxSize = box.readUInt32BE(0)
    const type = box.toString("latin1", 4, 8)
    if (boxSize === 1) boxSize = Number(box.readBigUInt64BE(8))
    else if (boxSize === 0) boxSize = size - at
    if (boxSize < 8) return undefined
    if (type === "mdat") [mdatAt, mdatEnd] = [at, Math.min(size, at + boxSize)]
    if (type === "moov") {
      if (at + boxSize > size) return undefined
      const moov = yield* readRange(file, at, boxSize)
      const summary = yield* parse(file, () => readMoov(moov))
      const moovLast = mdatAt >= 0
      if (mdatAt < 0) {
        // The mdat follows the moov's region: find it to know where the media starts.
        let p = at + boxSize
        while (p + 8 <= size && mdatAt < 0) {
          const next = yield* readRange(file, p, 8)
          if (next.toString("latin1", 4, 8) === "mdat") mdatAt = p
          else p += Math.max(8, next.readUInt32BE(0))
        }
      }
      if (mdatAt < 0 || summary.dataBegin < mdatAt + 8 || summary.dataEnd > size) return undefined
      if (moovLast && summary.dataEnd > mdatEnd) return undefined
      const header: LeftoverHeader = {
        kind: "in-file",
        samples: summary.samples,
        durationSeconds: summary.durationSeconds,
        bytes: undefined,
        mdatAt,
        moovLast,
        dataEnd: summary.dataEnd
      }
      return header
    }
    at += boxSize
  }
  return undefined
})

/** Every file the recording at `tmpPath` can leave: data, journal, split header and the header being replaced. */
export const leftoverPathsOf = (tmpPath: string): ReadonlyArray<string> => {
  const headerPath = headerPathOf(tmpPath)
  return [tmpPath, journalPath(tmpPath), headerPath, pendingHeaderPathOf(headerPath)]
}

/** Looks at what the recording at `tmpPath` left: which files, and what its journal and its header hold. */
export const inspectLeftover = Effect.fn("Leftover.inspect")(function*(tmpPath: string) {
  const headerPath = headerPathOf(tmpPath)
  const files: Array<string> = []
  for (const file of leftoverPathsOf(tmpPath)) if ((yield* sizeOf(file)) !== undefined) files.push(file)
  const dataSize = yield* sizeOf(tmpPath)
  let journal: JournaledRecording | undefined
  let journalProblem: string | undefined
  if (files.includes(journalPath(tmpPath))) {
    const read = yield* Effect.result(readJournaledRecording(tmpPath, dataSize ?? 0))
    if (read._tag === "Success") journal = read.success
    else journalProblem = read.failure.message
  }
  let header: LeftoverHeader | undefined
  if (dataSize !== undefined) {
    const found = files.includes(headerPath)
      ? Effect.map(splitHeaderOf(headerPath, dataSize), (h): LeftoverHeader | undefined => h)
      : inFileHeaderOf(tmpPath, dataSize)
    header = yield* found.pipe(Effect.catch(() => Effect.succeed(undefined)))
  }
  return {
    tmpPath,
    files,
    dataSize,
    journal,
    journalProblem,
    header,
    streamName: journal?.header.streamName ?? "",
    creationTime: journal?.header.creationTime
  } satisfies Mp4Leftover
})

/** Which source recovery would use: the journal when it has at least the header's samples. */
export const sourceOf = (leftover: Mp4Leftover): "journal" | "header" | undefined => {
  const { journal, header } = leftover
  if (journal !== undefined && journal.samples > 0 && journal.samples >= (header?.samples ?? 0)) return "journal"
  return header !== undefined && header.samples > 0 ? "header" : undefined
}

/** Duration of the file recovery would write, seconds (0 when there is nothing to recover). */
export const recoverableSeconds = (leftover: Mp4Leftover): number => {
  const source = sourceOf(leftover)
  if (source === "journal") return leftover.journal!.durationSeconds
  return source === "header" ? leftover.header!.durationSeconds : 0
}

export interface RecoveredMp4 {
  readonly path: string
  readonly bytes: number
  readonly durationSeconds: number
  readonly samples: number
  readonly from: "journal" | "header"
}

/** Writes the header-covered part as `finalPath` (data file: in place; split: header + data concatenated). */
const fromHeader = Effect.fn("Leftover.fromHeader")(function*(leftover: Mp4Leftover, header: LeftoverHeader,
  finalPath: string) {
  const { tmpPath } = leftover
  if (header.kind === "split") {
    const payload = header.dataEnd - MDAT_HEADER_BYTES
    const mdat = reservedMdatHeader(payload, payload + 16 > 0xffff_ffff)
    const source = { source: tmpPath, start: MDAT_HEADER_BYTES, end: header.dataEnd }
    return yield* writeComposed(finalPath, [{ bytes: header.bytes! }, { bytes: mdat }, source])
  }
  const file = yield* io("open", tmpPath, () => fsp.open(tmpPath, "r+"))
  yield* Effect.gen(function*() {
    if (!header.moovLast) {
      // An mdat of size 0 gets its size; past 4 GiB the free box before it makes room for a 64-bit size.
      const payload = header.dataEnd - header.mdatAt - 8
      const patch = Buffer.alloc(8)
      if (payload + 8 <= 0xffff_ffff) {
        patch.writeUInt32BE(payload + 8, 0)
        patch.write("mdat", 4, "latin1")
        yield* io("write", tmpPath, () => file.write(patch, 0, 8, header.mdatAt))
      } else {
        const large = reservedMdatHeader(payload - 8, true)
        yield* io("write", tmpPath, () => file.write(large, 0, 16, header.mdatAt - 8))
      }
      yield* io("truncate", tmpPath, () => file.truncate(header.dataEnd))
    }
    yield* io("fsync", tmpPath, () => file.sync())
  }).pipe(Effect.ensuring(Effect.promise(() => file.close())))
  const size = yield* sizeOf(tmpPath)
  yield* moveFile(tmpPath, finalPath)
  return size ?? 0
})

/** Removes every file of the leftover. */
export const removeLeftover = (leftover: Mp4Leftover) =>
  Effect.forEach(leftover.files, removeFile, { discard: true })

/**
 * Turns the leftover into `finalPath` from its best source (`sourceOf`) and removes its files. Fails with NoSamples
 * when neither the journal nor a header covers any sample.
 */
export const recoverLeftover = Effect.fn("Leftover.recover")(function*(
  leftover: Mp4Leftover,
  finalPath: string,
  moovFirst: boolean
) {
  const source = sourceOf(leftover)
  const { journal, header } = leftover
  if (source === "journal" && journal !== undefined) {
    const info = yield* writeMp4File(journal.media, { finalPath, moovFirst }, journal.journalLength)
    yield* removeLeftover(leftover)
    const recovered: RecoveredMp4 = {
      path: info.path,
      bytes: info.bytes,
      durationSeconds: info.durationSeconds,
      samples: journal.samples,
      from: "journal"
    }
    return recovered
  }
  if (source === "header" && header !== undefined) {
    const bytes = yield* fromHeader(leftover, header, finalPath)
    yield* removeLeftover(leftover)
    const recovered: RecoveredMp4 = {
      path: finalPath,
      bytes,
      durationSeconds: header.durationSeconds,
      samples: header.samples,
      from: "header"
    }
    return recovered
  }
  const why = leftover.journalProblem ?? (leftover.dataSize === undefined ? "the data file is missing" : "no samples")
  return yield* new Mp4WriteError({ reason: "NoSamples", message: `${leftover.tmpPath}: nothing to recover (${why})` })
})

