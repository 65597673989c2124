/**
 * Getting a finished file under its final name without a partial file ever having that name: rename when the temp
 * dir shares the record dir's filesystem, else (EXDEV, e.g. record_tmp_dir on a tmpfs) copy into `final.part` in
 * the record dir, fsync it and its directory, then rename. The file I/O of finalize and recovery, as Effects.
 */
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import { ioError, Mp4WriteError } from "./mp4-write-error.ts"

/** Copy block: few syscalls, yet small enough for 100 finalizes at once. */
const COPY_BLOCK = 1024 * 1024

export const io = <A>(action: string, file: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => ioError(action, file, cause) })

export const partPathOf = (finalPath: string): string => `${finalPath}.part`

/** fsync of a directory, so a rename or a removal in it is durable. */
export const syncDirectory = (dir: string) =>
  io("fsync", dir, () => fsp.open(dir, "r").then((handle) => handle.sync().finally(() => handle.close())))

export const removeFile = (file: string) => io("remove", file, () => fsp.rm(file, { force: true }))

/** Copies bytes [start, end) of `from` to `to` at `target`. */
export const copyRange = Effect.fn("Mp4File.copyRange")(function*(
  from: fsp.FileHandle,
  to: fsp.FileHandle,
  start: number,
  end: number,
  target: number,
  file: string
) {
  const block = Buffer.allocUnsafe(Math.min(COPY_BLOCK, Math.max(1, end - start)))
  let position = start
  while (position < end) {
    const want = Math.min(block.length, end - position)
    const { bytesRead } = yield* io("read", file, () => from.read(block, 0, want, position))
    if (bytesRead === 0) {
      return yield* new Mp4WriteError({ reason: "Io", message: `read ${file}: unexpected end of file` })
    }
    yield* io("write", file, () => to.write(block, 0, bytesRead, target + position - start))
    position += bytesRead
  }
})

/** A piece of the file written by `writeComposed`: bytes, or a range of a source file. */
export type Piece =
  | { readonly bytes: Uint8Array }
  | { readonly source: string; readonly start: number; readonly end: number }

/**
 * Writes `pieces` one after the other into `finalPath + ".part"`, fsyncs it, renames it to `finalPath` and fsyncs
 * the directory; removes the part on failure. Returns the bytes written.
 */
export const writeComposed = Effect.fn("Mp4File.writeComposed")(function*(
  finalPath: string,
  pieces: ReadonlyArray<Piece>
) {
  const part = partPathOf(finalPath)
  const write = Effect.gen(function*() {
    const target = yield* io("open", part, () => fsp.open(part, "w"))
    const position = yield* Effect.gen(function*() {
      let position = 0
      for (const piece of pieces) {
        if ("bytes" in piece) {
          const { bytes } = piece
          yield* io("write", part, () => target.write(bytes, 0, bytes.length, position))
          position += bytes.length
          continue
        }
        const source = yield* io("open", piece.source, () => fsp.open(piece.source, "r"))
        yield* copyRange(source, target, piece.start, piece.end, position, piece.source).pipe(
          Effect.ensuring(Effect.promise(() => source.close()))
        )
        position += piece.end - piece.start
      }
      yield* io("fsync", part, () => target.sync())
      return position
    }).pipe(Effect.ensuring(Effect.promise(() => target.close())))
    yield* io("rename", part, () => fsp.rename(part, finalPath))
    return position
  })
  const bytes = yield* write.pipe(Effect.onError(() => Effect.ignore(removeFile(part))))
  yield* syncDirectory(path.dirname(finalPath))
  return bytes
})

const isCrossDevice = (error: Mp4WriteError) => /EXDEV/.test(error.message)

/**
 * Moves a complete, fsynced file to `finalPath`: a rename, or across filesystems a copy through `final.part`
 * followed by removing `file`.
 */
export const moveFile = Effect.fn("Mp4File.move")(function*(file: string, finalPath: string) {
  const renamed = yield* io("rename", file, () => fsp.rename(file, finalPath)).pipe(
    Effect.as(true),
    Effect.catchIf(isCrossDevice, () => Effect.succeed(false))
  )
  if (renamed) return yield* syncDirectory(path.dirname(finalPath))
  const size = yield* io("stat", file, () => fsp.stat(file).then((s) => s.size))
  yield* writeComposed(finalPath, [{ source: file, start: 0, end: size }])
  yield* removeFile(file)
})
