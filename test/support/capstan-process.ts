/**
 * Starts the real `capstan serve` binary as a child process on loopback with a generated config, for
 * end-to-end tests, and stops it by its PID.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export interface CapstanProcess {
  readonly child: ChildProcess
  readonly httpPort: number
  readonly rtmpPort: number
  readonly dir: string
  readonly recordDir: string
  readonly configPath: string
  readonly logs: () => string
  readonly url: (pathname: string) => string
  readonly waitForLog: (pattern: RegExp, timeoutMs?: number) => Promise<string>
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      server.close(() => resolve(address.port))
    })
  })

export const tempDir = (prefix: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `capstan-${prefix}-`))

export const startCapstan = async (
  properties: Record<string, string> = {},
  options: { readonly dir?: string; readonly readyTimeoutMs?: number; readonly env?: Record<string, string> } = {}
): Promise<CapstanProcess> => {
  const dir = options.dir ?? tempDir("e2e")
  const httpPort = await freePort()
  const rtmpPort = await freePort()
  const recordDir = properties.record_dir ?? path.join(dir, "records")
  const config = {
    bind_address: "127.0.0.1",
    http_port: String(httpPort),
    rtmp_port: String(rtmpPort),
    record_dir: recordDir,
    file_recorder_min_space: "1m",
    ...properties
  }
  const configPath = path.join(dir, "capstan.properties")
  fs.writeFileSync(configPath, Object.entries(config).map(([key, value]) => `${key}=${value}`).join("\n") + "\n")
  const node = path.resolve("node_modules/.bin/node")
  const child = spawn(node, ["src/main.ts", "serve", "--config", configPath], {
    cwd: path.resolve("."),
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env }
  })
  let output = ""
  const waiters = new Set<() => void>()
  const onData = (chunk: Buffer) => {
    output += chunk.toString()
    for (const waiter of waiters) waiter()
  }
  child.stdout!.on("data", onData)
  child.stderr!.on("data", onData)
  let exitCode: number | null | undefined
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      exitCode = code
      for (const waiter of waiters) waiter()
      resolve(code)
    })
  )

  const waitForLog = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = output.match(pattern)
        if (match) {
          cleanup()
          resolve(match[0])
        } else if (exitCode !== undefined) {
          cleanup()
          reject(new Error(`capstan exited (${exitCode}) before logging ${pattern}:\n${output}`))
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out waiting for ${pattern} in capstan's log:\n${output}`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })

  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (exitCode !== undefined) return exitCode
    child.kill(signal)
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    const code = await exited
    clearTimeout(timer)
    return code
  }

  const server: CapstanProcess = {
    child,
    httpPort,
    rtmpPort,
    dir,
    recordDir,
    configPath,
    logs: () => output,
    url: (pathname) => `http://127.0.0.1:${httpPort}${pathname}`,
    waitForLog,
    stop
  }
  await waitForLog(/capstan ready/, options.readyTimeoutMs ?? 30_000)
  return server
}
