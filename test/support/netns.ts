/**
 * Runs a Node 22 script in its own network namespace that has nothing but loopback, for the WebRTC browser tests:
 * werift and Chromium advertise every interface address they find, and inside the namespace the only one is
 * 127.0.0.1, so no packet can go to the machine's real interfaces.
 *
 *   unshare --net --pid --fork --kill-child --mount-proc -- sh -c 'ip link set lo up && exec node script args'
 *
 * The script is PID 1 of its own PID namespace too: when it ends (or is killed), the kernel kills everything it
 * started, Chromium included. Without root, a user namespace (`--map-root-user`) is added.
 */
import { spawn, spawnSync } from "node:child_process"
import * as path from "node:path"

export interface NetnsRun {
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

/** Node 22 from node_modules (the shell's `node` may be an older one). */
export const node22 = (): string => path.resolve("node_modules/.bin/node")

const unshareArgs = (): Array<string> => [
  ...(process.getuid?.() === 0 ? [] : ["--map-root-user"]),
  "--net",
  "--pid",
  "--fork",
  "--kill-child",
  "--mount-proc"
]

/** Whether namespaces can be made here (root, or unprivileged user namespaces). */
export const netnsAvailable = (): boolean =>
  spawnSync("unshare", [...unshareArgs(), "--", "sh", "-c", "ip link set lo up"], { timeout: 10_000 }).status === 0

/**
 * Runs `node script ...args` in a fresh loopback-only namespace and collects its output. After `timeoutMs` the
 * run gets SIGTERM, and SIGKILL 5 s later; `unshare --kill-child` passes the kill on to the script.
 */
export const runInNetns = (
  script: string,
  args: ReadonlyArray<string>,
  options: { readonly timeoutMs: number; readonly onStderr?: (chunk: string) => void }
): Promise<NetnsRun> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      "unshare",
      [...unshareArgs(), "--", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', node22(), script, ...args],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    let timedOut = false
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
      options.onStderr?.(chunk)
    })
    const kill = setTimeout(() => {
      timedOut = true
      child.kill("SIGTERM")
      setTimeout(() => child.exitCode === null && child.kill("SIGKILL"), 5_000).unref()
    }, options.timeoutMs)
    child.on("error", (error) => {
      clearTimeout(kill)
      reject(error)
    })
    child.on("close", (exitCode, signal) => {
      clearTimeout(kill)
      resolve({ exitCode, signal, stdout, stderr, timedOut })
    })
  })

/** The last line of a run's stdout that parses as JSON: the driver's report. */
export const lastJsonLine = <A>(stdout: string): A | undefined => {
  const lines = stdout.trim().split("\n").reverse()
  for (const line of lines) {
    try {
      return JSON.parse(line) as A
    } catch {
      continue
    }
  }
  return undefined
}
