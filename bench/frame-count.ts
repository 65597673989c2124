// Counts the video frames of a recording with ffprobe, the independent judge of what a server wrote.
// "frames" decodes every frame (-count_frames: slow, catches undecodable data); "packets" only demuxes
// (-count_packets).
import { execFile } from "node:child_process"
import { readdirSync, statSync } from "node:fs"
import { join } from "node:path"

export type CountMode = "frames" | "packets"

export const countVideoFrames = (path: string, mode: CountMode, timeoutMs = 600_000): Promise<number> =>
  new Promise((resolve, reject) => {
    const entry = mode === "frames" ? "nb_read_frames" : "nb_read_packets"
    const args = ["-v", "error", `-count_${mode}`, "-select_streams", "v:0", "-show_entries", `stream=${entry}`]
    execFile("ffprobe", [...args, "-of", "default=nw=1:nk=1", path], { timeout: timeoutMs }, (error, stdout) => {
      const count = Number.parseInt(stdout.trim(), 10)
      if (Number.isInteger(count)) resolve(count)
      else reject(new Error(`ffprobe ${path}: ${error?.message ?? `no ${entry} in "${stdout.trim()}"`}`))
    })
  })

/** Every file under dir (bounded depth), for finding recordings whatever subfolders a server uses. */
export const listFiles = (dir: string, depth = 4): Array<string> => {
  let entries: Array<string>
  try {
    entries = readdirSync(dir)
  } catch {
    return []
  }
  return entries.flatMap((name) => {
    const path = join(dir, name)
    const stat = statSync(path, { throwIfNoEntry: false })
    if (stat === undefined) return []
    if (stat.isDirectory()) return depth > 0 ? listFiles(path, depth - 1) : []
    return [path]
  })
}

/** Total size of the files under dir: stable between polls once a server has finished writing. */
export const totalSize = (dir: string): number =>
  listFiles(dir).reduce((sum, path) => sum + (statSync(path, { throwIfNoEntry: false })?.size ?? 0), 0)
