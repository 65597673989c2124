// The benchmark's child servers: spawned with their output in a log file, remembered by PID so that they are killed
// (only they, by PID) on normal exit, errors and Ctrl-C, and probed on loopback until they accept connections.
import { type ChildProcess, spawn } from "node:child_process"
import { openSync, closeSync } from "node:fs"
import { connect, createServer } from "node:net"
import { processTree } from "./proc-usage.ts"

export interface ServerProcess {
  readonly pid: number
  readonly child: ChildProcess
  readonly logPath: string
  /** Resolves with the exit code (or signal name) when the process has exited. */
  readonly exited: Promise<number | string>
  readonly hasExited: () => boolean
}

const running = new Set<number>()

// Descendants too: nginx's worker outlives a SIGKILLed master. Children first, so none is re-parented unseen.
const killAll = (): void => {
  for (const root of running) {
    for (const pid of processTree(root).reverse()) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // Already gone.
      }
    }
  }
  running.clear()
}

let cleanupInstalled = false

/** Kills every server still running when this process exits or is interrupted. */
export const installCleanup = (): void => {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.on("exit", killAll)
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping ${running.size} server process(es)`)
      killAll()
      process.exit(130)
    })
  }
}

export const spawnServer = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly logPath: string; readonly env?: NodeJS.ProcessEnv }
): ServerProcess => {
  const log = openSync(options.logPath, "a")
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", log, log] })
  closeSync(log)
  if (child.pid === undefined) throw new Error(`could not start ${command}`)
  const pid = child.pid
  running.add(pid)
  let done = false
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true
      running.delete(pid)
      resolve(code ?? signal ?? "unknown")
    })
    child.once("error", (error) => {
      done = true
      running.delete(pid)
      resolve(error.message)
    })
  })
  return { pid, child, logPath: options.logPath, exited, hasExited: () => done }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Signals the process by PID and waits for it; SIGKILL if it is still there after graceMs. */
export const stopServer = async (server: ServerProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000) => {
  if (server.hasExited()) return server.exited
  process.kill(server.pid, signal)
  const stopped = await Promise.race([server.exited, sleep(graceMs).then(() => undefined)])
  if (stopped !== undefined) return stopped
  process.kill(server.pid, "SIGKILL")
  return server.exited
}

const canConnect = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host, port })
    socket.setTimeout(1000)
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
    socket.once("timeout", () => {
      socket.destroy()
      resolve(false)
    })
  })

/** Polls until the port accepts a TCP connection; fails if the process exits first or timeoutMs passes. */
export const waitForPort = async (server: ServerProcess, host: string, port: number, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (server.hasExited()) {
      throw new Error(`process exited (${await server.exited}) before listening; see ${server.logPath}`)
    }
    if (await canConnect(host, port)) return
    await sleep(100)
  }
  throw new Error(`port ${port} not listening after ${timeoutMs} ms; see ${server.logPath}`)
}

/** A loopback port that was free a moment ago (the kernel's pick for port 0). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
