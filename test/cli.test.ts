/**
 * The `capstan` command: a bad config value stops the start with one line naming the key, the value and what is
 * expected; unknown keys are warned about; the record hook runs with (stream name, absolute path) as argv.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { startCapstan, tempDir } from "./support/capstan-process.ts"
import { ffmpegPublish } from "./support/ffmpeg-publish.ts"
import { until } from "./support/wait.ts"

const serveWith = (text: string) => {
  const dir = tempDir("cli")
  const config = path.join(dir, "bad.properties")
  fs.writeFileSync(config, text)
  return spawnSync(path.resolve("node_modules/.bin/node"), ["src/main.ts", "serve", "--config", config], {
    encoding: "utf8",
    timeout: 30_000
  })
}

describe("capstan serve", () => {
  it.each([
    { text: "record_rotation=sometimes\n", key: "record_rotation", value: "sometimes", expected: /disabled/ },
    { text: "http_port=70000\n", key: "http_port", value: "70000", expected: /1\.\.65535/ },
    { text: "file_recorder_min_space=12x\n", key: "file_recorder_min_space", value: "12x", expected: /g|m/ }
  ])("refuses $key=$value with a non-zero exit and one line", ({ text, key, value, expected }) => {
    const result = serveWith(text)
    assert.notStrictEqual(result.status, 0)
    const lines = result.stderr.trim().split("\n")
    assert.strictEqual(lines.length, 1, result.stderr)
    assert.include(lines[0], `${key}="${value}"`)
    assert.match(lines[0]!, expected)
  })

  it("refuses a config file that does not exist", () => {
    const result = spawnSync(path.resolve("node_modules/.bin/node"), ["src/main.ts", "serve", "--config", "/nonexistent/x"], {
      encoding: "utf8",
      timeout: 30_000
    })
    assert.notStrictEqual(result.status, 0)
  })

  it("warns about an unknown key and starts anyway", async () => {
    const server = await startCapstan({ recrod_dir: "/typo" })
    try {
      assert.match(server.logs(), /WARN.*recrod_dir/)
    } finally {
      await server.stop()
    }
  })

  it("runs the record hook with the stream name and the file's absolute path as argv, never through a shell", async () => {
    const dir = tempDir("hook")
    const out = path.join(dir, "hook.out")
    const script = path.join(dir, "hook.sh")
    fs.writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$#" "$1" "$2" > ${JSON.stringify(out)}\n`, { mode: 0o755 })
    const server = await startCapstan({ on_record_hook_script: script, stream_record_policy_template: "{streamName}" }, { dir })
    try {
      const published = await ffmpegPublish({ url: `rtmp://127.0.0.1:${server.rtmpPort}/live/hooked`, seconds: 1 })
      assert.strictEqual(published.code, 0)
      await until("the hook's output", () => (fs.existsSync(out) ? true : undefined))
      const [count, streamName, file] = fs.readFileSync(out, "utf8").trim().split("\n")
      assert.strictEqual(count, "2")
      assert.strictEqual(streamName, "hooked")
      assert.strictEqual(file, path.join(server.recordDir, "hooked.mp4"))
      assert.isTrue(path.isAbsolute(file!))
      assert.isTrue(fs.existsSync(file!), "the hook runs once the file is in place")
    } finally {
      await server.stop()
    }
  })
})
