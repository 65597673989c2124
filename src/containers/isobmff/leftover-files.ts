/**
 * Which files in the temp and record dirs an MP4 recording can have left behind, told by name and checked by
 * content, so crash recovery never takes another writer's temp files (Matroska, MPEG-TS) or a stranger's.
 */
import * as fsp from "node:fs/promises"
import { Effect } from "effect"
import { inFileHeaderOf } from "./leftover-recovery.ts"
import { readJournalPrefix } from "./temp-files.ts"

export type LeftoverKind = "journal" | "data" | "header" | "pending-header" | "part"

/** The kind a file's name says it is, or undefined for files no MP4 recording leaves. */
export const leftoverKindOf = (file: string): LeftoverKind | undefined => {
  if (file.endsWith(".idx")) return "journal"
  if (file.endsWith(".header")) return "header"
  if (file.endsWith(".header.new")) return "pending-header"
  if (file.endsWith(".part")) return "part"
  // Only MP4 data: Matroska and MPEG-TS temp files play as they are and are moved, not rebuilt.
  if (file.endsWith(".mp4.tmp")) return "data"
  return undefined
}

/** The first journal record holds at most a 64 KiB stream name. */
const JOURNAL_HEAD_BYTES = 70 * 1024

const head = (file: string, bytes: number) =>
  Effect.promise(() =>
    fsp.open(file, "r").then(
      (handle) =>
        handle.read(Buffer.alloc(bytes), 0, bytes, 0).then((r) => r.buffer.subarray(0, r.bytesRead))
          .finally(() => handle.close()),
      () => Buffer.alloc(0)
    )
  )

const typeAt = (bytes: Buffer, at: number) => bytes.toString("latin1", at + 4, at + 8)

/** Whether `file`, named as a leftover of `kind`, has the content an MP4 recording writes there. */
export const isOurs = Effect.fn("LeftoverFiles.isOurs")(function*(file: string, kind: LeftoverKind) {
  if (kind === "journal") return readJournalPrefix(yield* head(file, JOURNAL_HEAD_BYTES)).records[0]?.type === "header"
  const bytes = yield* head(file, 16)
  if (kind === "pending-header") return bytes.length < 8 || typeAt(bytes, 0) === "ftyp"
  // An MP4 data file cut before its first 16 bytes: a recording that died while opening.
  if (kind === "data" && bytes.length < 16) return file.endsWith(".mp4.tmp")
  if (bytes.length < 16) return false
  if (kind === "data") {
    return typeAt(bytes, 0) === "ftyp" || (typeAt(bytes, 0) === "free" && typeAt(bytes, 8) === "mdat")
  }
  return typeAt(bytes, 0) === "ftyp"
})

/** What a whole `.part` file holds (its moov and every byte it references), or undefined when it is cut short. */
export const completePart = Effect.fn("LeftoverFiles.completePart")(function*(part: string) {
  const size = yield* Effect.promise(() => fsp.stat(part).then((s) => s.size, () => 0))
  const header = yield* inFileHeaderOf(part, size).pipe(Effect.catch(() => Effect.succeed(undefined)))
  return header === undefined ? undefined : { durationSeconds: header.durationSeconds, frames: header.samples }
})
