// CPU time and peak resident memory of a server and its descendants, read from Linux procfs (proc(5)):
// /proc/PID/stat fields 14-17 (utime, stime, cutime, cstime, in clock ticks) and VmHWM in /proc/PID/status.
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"

export interface ProcUsage {
  /** User + system CPU seconds of the process tree, including reaped children. */
  readonly cpuSeconds: number
  /** Sum of each live process's peak resident set (VmHWM), in bytes. */
  readonly peakRssBytes: number
  readonly pids: ReadonlyArray<number>
}

const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
  } catch {
    return 100
  }
})()

/** Fields after the command name, which is in parentheses and may itself hold spaces or parentheses. */
const statFields = (pid: number): Array<string> | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  } catch {
    return undefined
  }
}

// Field n of proc(5) is index n - 3 after the command name: state is field 3, ppid field 4, utime field 14.
const field = (fields: ReadonlyArray<string>, n: number): number => Number(fields[n - 3])

/** The process and all its descendants, found through the parent PID of every process in /proc. */
export const processTree = (root: number): Array<number> => {
  const children = new Map<number, Array<number>>()
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    const fields = statFields(pid)
    if (fields === undefined) continue
    const ppid = field(fields, 4)
    children.set(ppid, [...(children.get(ppid) ?? []), pid])
  }
  const tree: Array<number> = []
  const pending = [root]
  while (pending.length > 0 && tree.length < 10_000) {
    const pid = pending.pop()!
    tree.push(pid)
    pending.push(...(children.get(pid) ?? []))
  }
  return tree
}

const peakRss = (pid: number): number => {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"))
    return match === null ? 0 : Number(match[1]) * 1024
  } catch {
    return 0
  }
}

export const readUsage = (root: number): ProcUsage => {
  const pids = processTree(root)
  let ticks = 0
  let peakRssBytes = 0
  for (const pid of pids) {
    const fields = statFields(pid)
    if (fields === undefined) continue
    ticks += field(fields, 14) + field(fields, 15) + field(fields, 16) + field(fields, 17)
    peakRssBytes += peakRss(pid)
  }
  return { cpuSeconds: ticks / clockTicks, peakRssBytes, pids }
}
