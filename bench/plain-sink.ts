// The floor of the recording benchmark: a plain Node TCP server that writes each connection's bytes, unparsed, to its
// own file. Whatever a recording server spends beyond this is the cost of RTMP parsing and muxing.
// Usage: npx node bench/plain-sink.ts --port 19350 --dir bench/out/sink [--host 127.0.0.1]
import { createWriteStream, mkdirSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: { port: { type: "string" }, dir: { type: "string" }, host: { type: "string", default: "127.0.0.1" } }
})
if (values.port === undefined || values.dir === undefined) {
  console.error("usage: plain-sink.ts --port PORT --dir DIR [--host 127.0.0.1]")
  process.exit(2)
}
const dir = values.dir
mkdirSync(dir, { recursive: true })

let connections = 0
const server = createServer((socket) => {
  connections += 1
  const file = createWriteStream(join(dir, `connection-${String(connections).padStart(4, "0")}.rtmp`))
  socket.pipe(file)
  socket.on("error", () => file.end())
})
server.listen(Number(values.port), values.host, () => {
  console.log(`plain sink listening on ${values.host}:${values.port}`)
})

process.once("SIGTERM", () => {
  server.close()
  process.exit(0)
})
