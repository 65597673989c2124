/**
 * A scoped temporary directory for the mixer's work files (filter graph, label texts, pulled parts): made under the
 * system's temp directory and removed with everything in it when the scope closes, however the work ended.
 */
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { MixerError } from "./mixer-error.ts"

const failed = (what: string) => (cause: unknown) =>
  new MixerError({ reason: "TempFiles", message: `${what}: ${cause instanceof Error ? cause.message : String(cause)}` })

/** A fresh directory `capstan-{prefix}-XXXXXX`, gone when the scope closes. */
export const workDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => fsp.mkdtemp(path.join(os.tmpdir(), `capstan-${prefix}-`)),
      catch: failed("cannot make a temporary directory")
    }),
    (dir) => Effect.promise(() => fsp.rm(dir, { recursive: true, force: true }))
  )

/** Writes the files (path -> text). */
export const writeWorkFiles = (files: ReadonlyMap<string, string>) =>
  Effect.tryPromise({
    try: async () => {
      for (const [file, text] of files) await fsp.writeFile(file, text)
    },
    catch: failed("cannot write the mixer's work files")
  })
