/**
 * Crash recovery at startup (and `capstan recover FILE`): finds what MP4 recordings interrupted by a crash left in
 * the temp and record dirs, turns each into a playable file in record_dir holding everything up to its last journal
 * flush or header update, and removes the leftovers. What cannot be recovered is renamed `*.corrupt` and logged.
 * Run it before publishers are accepted: it takes every leftover it recognises as abandoned.
 */
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import {
  completePart,
  dataPathOf,
  inspectLeftover,
  isOurs,
  leftoverPathsOf,
  type LeftoverKind,
  leftoverKindOf,
  type Mp4Leftover,
  Mp4WriteError,
  partPathOf,
  recoverableSeconds,
  recoverLeftover,
  removeLeftover
} from "../containers/isobmff/index.ts"

export interface RecoveredFile {
  /** The stream the recording was of, from its journal; empty when unknown (header-only leftovers). */
  readonly streamName: string
  readonly path: string
  readonly durationSeconds: number
  /** Samples (video and audio frames) in the recovered file. */
  readonly frames: number
  readonly from: "journal" | "header"
}

/** What a recovered file's name can be made of, for `nameFor`. */
export interface LeftoverName {
  readonly streamName: string
  /** From a temp file named `.${mediaSessionId}_${index}.${ext}.tmp` (media-session.ts), when it is. */
  readonly mediaSessionId: string | undefined
  readonly index: number | undefined
  /** Unix ms the recording began, when the journal says. */
  readonly startMillis: number | undefined
  readonly durationSeconds: number
  /** The tracks' codecs ("H264", "AAC"), when the journal says. */
  readonly videoCodec: string | undefined
  readonly audioCodec: string | undefined
  /** The temp file's name without its leading dot and `.mp4.tmp`. */
  readonly stem: string
}

export interface RecoveryOptions {
  readonly recordDir: string
  /** mp4_container_moov_first, for files rebuilt from a journal. */
  readonly moovFirst: boolean
  /** The file name (no directory) of a recovered file; default `defaultRecoveredName`. */
  readonly nameFor?: (leftover: LeftoverName) => string
}

export interface RecoverLeftoversOptions extends RecoveryOptions {
  readonly tmpDirs: ReadonlyArray<string>
}

const TEMP_NAME = /^\.(.+)_(\d+)\.[^.]+\.tmp$/

export const leftoverName = (leftover: Mp4Leftover, durationSeconds: number): LeftoverName => {
  const base = path.basename(leftover.tmpPath)
  const session = TEMP_NAME.exec(base)
  const stem = base.replace(/^\./, "").replace(/\.tmp$/, "").replace(/\.mp4$/, "")
  const tracks = leftover.journal?.media.tracks ?? []
  return {
    streamName: leftover.streamName,
    mediaSessionId: session?.[1],
    index: session === null ? undefined : Number(session[2]),
    startMillis: leftover.creationTime,
    durationSeconds,
    videoCodec: tracks.find((t) => t.track.kind === "video")?.track.codec,
    audioCodec: tracks.find((t) => t.track.kind === "audio")?.track.codec,
    stem
  }
}

/** `STREAM-STEM.mp4`, or `STEM.mp4` when the stream is unknown: `.ID_1.mp4.tmp` of stream `s` gives `s-ID_1.mp4`. */
export const defaultRecoveredName = (name: LeftoverName): string => {
  const stream = name.streamName.replace(/[/\\\0]/g, "_")
  return `${stream === "" || name.stem.startsWith(stream) ? "" : `${stream}-`}${name.stem}.mp4`
}

const exists = (file: string) => Effect.promise(() => fsp.access(file).then(() => true, () => false))

/**
 * `name` in `dir`, or with `-recovered`, `-recovered-2`, ... before its extension when that name or its part is
 * taken (by another file than `own`, the part being recovered).
 */
const freeName = Effect.fn("CrashRecovery.freeName")(function*(dir: string, name: string, own?: string) {
  const ext = path.extname(name)
  const stem = name.slice(0, name.length - ext.length)
  for (let n = 1; ; n++) {
    const candidate = path.join(dir, n === 1 ? name : `${stem}-recovered${n === 2 ? "" : `-${n - 1}`}${ext}`)
    const part = partPathOf(candidate)
    if (!(yield* exists(candidate)) && (part === own || !(yield* exists(part)))) return candidate
  }
})

/**
 * Renames what cannot be recovered to `*.corrupt`, so it is kept for a person to look at and not scanned again. An
 * I/O failure (a full disk) is not the leftover's fault: those files stay as they are, for the next start.
 */
const quarantine = Effect.fn("CrashRecovery.quarantine")(function*(files: ReadonlyArray<string>, error: Mp4WriteError) {
  if (error.reason === "Io") {
    const message = `crash recovery: recovering ${files[0]} failed, left for the next start: ${error.message}`
    return yield* Effect.logError(message)
  }
  const why = error.message
  const present: Array<string> = []
  for (const file of new Set(files)) if (yield* exists(file)) present.push(file)
  yield* Effect.forEach(present, (file) => Effect.promise(() => fsp.rename(file, `${file}.corrupt`).catch(() => {})))
  yield* Effect.logWarning(`crash recovery: cannot recover ${present.join(", ")}: ${why}; renamed *.corrupt`)
})

/**
 * Recovers the recording whose data file is `tmpPath`. Succeeds with undefined when its leftovers belong to a file
 * finalize had already completed (they are removed); fails when nothing can be recovered (files left as they are).
 */
const recoverGroup = Effect.fn("CrashRecovery.recoverGroup")(function*(tmpPath: string, options: RecoveryOptions) {
  const leftover = yield* inspectLeftover(tmpPath)
  const finalizing = leftover.journal?.finalizing
  if (finalizing !== undefined && (yield* exists(finalizing))) {
    yield* removeLeftover(leftover)
    yield* Effect.promise(() => fsp.rm(partPathOf(finalizing), { force: true }))
    yield* Effect.logInfo(`crash recovery: ${finalizing} was complete; removed its temporary files`)
    return undefined
  }
  const name = finalizing !== undefined
    ? path.basename(finalizing)
    : (options.nameFor ?? defaultRecoveredName)(leftoverName(leftover, recoverableSeconds(leftover)))
  if (finalizing !== undefined) yield* Effect.promise(() => fsp.rm(partPathOf(finalizing), { force: true }))
  const finalPath = yield* freeName(options.recordDir, name)
  const recovered = yield* recoverLeftover(leftover, finalPath, options.moovFirst)
  const file: RecoveredFile = {
    streamName: leftover.streamName,
    path: recovered.path,
    durationSeconds: recovered.durationSeconds,
    frames: recovered.samples,
    from: recovered.from
  }
  yield* Effect.logInfo(
    `crash recovery: recovered ${file.path} from the ${file.from} of ${tmpPath} ` +
      `(${file.frames} frames, ${file.durationSeconds.toFixed(3)} s, stream "${file.streamName}")`
  )
  return file
})

/** A `final.part` left by a finalize that did not rename it: kept when whole, under its final name if free. */
const recoverPart = Effect.fn("CrashRecovery.recoverPart")(function*(part: string) {
  const complete = yield* completePart(part)
  if (complete === undefined) return yield* new Mp4WriteError({ reason: "Corrupt", message: `${part} is incomplete` })
  const finalPath = yield* freeName(path.dirname(part), path.basename(part).slice(0, -".part".length), part)
  yield* Effect.promise(() => fsp.rename(part, finalPath))
  yield* Effect.logInfo(`crash recovery: ${part} was whole; renamed to ${finalPath}`)
  return { streamName: "", path: finalPath, ...complete, from: "header" } satisfies RecoveredFile
})

const listDir = (dir: string) =>
  Effect.promise(() => fsp.readdir(dir).then((names) => names.map((name) => path.join(dir, name)), () => []))

/**
 * Scans `tmpDirs` for journals, data files, split headers and stray parts, and `recordDir` for parts; recovers each
 * recording into `recordDir`. Never fails: what cannot be recovered is logged and renamed `*.corrupt`.
 */
export const recoverLeftovers = Effect.fn("CrashRecovery.recoverLeftovers")(function*(
  options: RecoverLeftoversOptions
) {
  const dirs = [...new Set([...options.tmpDirs, options.recordDir].map((dir) => path.resolve(dir)))]
  const groups = new Map<string, Array<string>>()
  const parts: Array<string> = []
  for (const file of (yield* Effect.forEach(dirs, listDir)).flat()) {
    const kind: LeftoverKind | undefined = leftoverKindOf(file)
    if (kind === undefined || !(yield* isOurs(file, kind))) continue
    if (kind === "part") {
      parts.push(file)
      continue
    }
    const tmpPath = yield* Effect.orElseSucceed(dataPathOf(file), () => file)
    groups.set(tmpPath, [...(groups.get(tmpPath) ?? []), file])
  }
  const recovered: Array<RecoveredFile> = []
  for (const [tmpPath, files] of groups) {
    const result = yield* Effect.result(recoverGroup(tmpPath, options))
    if (result._tag === "Failure") yield* quarantine([...files, ...leftoverPathsOf(tmpPath)], result.failure)
    else if (result.success !== undefined) recovered.push(result.success)
  }
  for (const part of parts) {
    if (!(yield* exists(part))) continue
    const result = yield* Effect.result(recoverPart(part))
    if (result._tag === "Failure") yield* quarantine([part], result.failure)
    else recovered.push(result.success)
  }
  return recovered as ReadonlyArray<RecoveredFile>
})

/**
 * `capstan recover FILE`: recovers the recording FILE belongs to (a data temp file, its `.idx` journal, a `.header`
 * or `.tmp` of a split pair, a reserved-moov file, or a `.part`) into `options.recordDir`. Fails with the reason
 * when nothing can be recovered, leaving the files untouched.
 */
export const recoverFile = Effect.fn("CrashRecovery.recoverFile")(function*(file: string, options: RecoveryOptions) {
  if (file.endsWith(".part")) return yield* recoverPart(path.resolve(file))
  const tmpPath = yield* dataPathOf(path.resolve(file))
  const recovered = yield* recoverGroup(tmpPath, options)
  if (recovered === undefined) {
    return yield* new Mp4WriteError({ reason: "NoSamples", message: `${file}: its recording was already complete` })
  }
  return recovered
})
