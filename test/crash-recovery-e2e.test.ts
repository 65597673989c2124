/**
 * Crash recovery end to end: the server is SIGKILLed in the middle of recordings, then started again on the same
 * directories. The next start turns every leftover into a playable recording, runs the record hook for it and
 * logs it; `capstan recover FILE` does the same for one file by hand.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { mkvinfoClusters } from "./fixtures/containers/media-judges.ts"
import { type CapstanProcess, startCapstan, tempDir } from "./support/capstan-process.ts"
import { type RunningPublish, startPublish } from "./support/ffmpeg-publish.ts"
import { countFrames, decodeErrors, probe } from "./support/ffprobe.ts"
import { sleep, until } from "./support/wait.ts"

const cases: Array<{ readonly name: string; readonly properties: Record<string, string> }> = [
  { name: "journal only", properties: {} },
  { name: "header on the fly, .header + .tmp pair", properties: { mp4_container_write_header_on_fly: "true", mp4_container_write_header_on_fly_interval: "1" } },
  {
    name: "header on the fly in a reserved moov",
    properties: {
      mp4_container_moov_first_reserve_space: "true",
      mp4_container_write_header_on_fly: "true",
      mp4_container_write_header_on_fly_interval: "1"
    }
  }
]

/** SIGKILLs the server and its publisher, starts it again, and returns it with the MKV it says it completed. */
const restartAfterKill = async (
  first: CapstanProcess,
  publisher: RunningPublish,
  config: Record<string, string>,
  dir: string
) => {
  await first.stop("SIGKILL")
  publisher.kill("SIGKILL")
  const second = await startCapstan(config, { dir })
  const line = await second.waitForLog(/recovered \S+\.mkv after a crash: completed with Cues and duration/)
  return { second, file: /^recovered (\S+\.mkv) after a crash/.exec(line)![1]! }
}

describe("crash recovery", () => {
  it.each(cases)("recovers a recording cut by SIGKILL ($name) on the next start", async ({ properties }) => {
    const dir = tempDir("crash")
    const hookOut = path.join(dir, "hook.out")
    const hook = path.join(dir, "hook.sh")
    fs.writeFileSync(hook, `#!/bin/sh\necho "$1|$2" >> ${JSON.stringify(hookOut)}\n`, { mode: 0o755 })
    const config = {
      stream_record_policy_template: "{streamName}",
      record_tmp_dir: path.join(dir, "tmp"),
      on_record_hook_script: hook,
      ...properties
    }
    const first = await startCapstan(config, { dir })
    const publisher = startPublish({ url: `rtmp://127.0.0.1:${first.rtmpPort}/live/crashed`, seconds: 30, realtime: true })
    await first.waitForLog(/RTMP publish crashed as media session/)
    const publishedFrom = Date.now()
    await sleep(6000)
    const published = (Date.now() - publishedFrom) / 1000
    assert.strictEqual(await first.stop("SIGKILL"), null)
    publisher.kill("SIGKILL")
    assert.isFalse(fs.existsSync(path.join(first.recordDir, "crashed.mp4")), "nothing was finalized before the kill")

    const second = await startCapstan(config, { dir })
    try {
      await second.waitForLog(/recovered .*crashed\.mp4/)
      const file = path.join(second.recordDir, "crashed.mp4")
      assert.strictEqual(decodeErrors(file), "")
      const duration = Number(probe(file).format.duration)
      // Everything up to the last header update or journal flush: at most about one interval (1 s) lost.
      assert.isAtLeast(duration, published - 2.5, `recovered ${duration} s of ${published} s`)
      const line = await until("the hook for the recovered file", () =>
        fs.existsSync(hookOut) ? fs.readFileSync(hookOut, "utf8").trim() : undefined)
      assert.strictEqual(line, `crashed|${file}`)
      const leftovers = fs.readdirSync(path.join(dir, "tmp"))
      assert.deepStrictEqual(leftovers, [], "the leftovers are gone once recovered")
    } finally {
      await second.stop()
    }
  })

  it("keeps an MKV recording cut by SIGKILL, playable up to its last flushed cluster", async () => {
    const dir = tempDir("crash-mkv")
    const config = { record_formats: "h264-mkv, vp8-mkv", record_tmp_dir: path.join(dir, "tmp") }
    const first = await startCapstan(config, { dir })
    const publisher = startPublish({ url: `rtmp://127.0.0.1:${first.rtmpPort}/live/mkvcrash`, seconds: 30, realtime: true })
    await first.waitForLog(/RTMP publish mkvcrash as media session/)
    await sleep(6000)
    const { second, file } = await restartAfterKill(first, publisher, config, dir)
    try {
      assert.strictEqual(path.dirname(file), second.recordDir)
      const frames = countFrames(file, 0)
      assert.isAtLeast(frames, 90, "what was flushed before the kill plays")
      assert.strictEqual(decodeErrors(file), "")
      // Completed: a known duration (30 fps) and Cues to seek by.
      assert.approximately(Number(probe(file).format.duration), frames / 30, 0.2)
      assert.isTrue(mkvinfoClusters(file).hasCues, "Cues")
      assert.deepStrictEqual(fs.readdirSync(path.join(dir, "tmp")), [])
    } finally {
      await second.stop()
    }
  })

  it("completes an MKV multi-recording cut by SIGKILL into multi_record_dir and runs the multi-record hook", async () => {
    const dir = tempDir("crash-multi-mkv")
    const hookOut = path.join(dir, "hook.out")
    const hook = path.join(dir, "multi-hook.sh")
    fs.writeFileSync(hook, `#!/bin/sh\necho "$1|$2" > ${JSON.stringify(hookOut)}\n`, { mode: 0o755 })
    const config = {
      record_streams: "false",
      multi_record_format: "mkv",
      multi_record_dir: path.join(dir, "multi"),
      record_tmp_dir: path.join(dir, "tmp"),
      stream_record_policy_template: "{streamName}",
      on_multiple_record_hook_script: hook
    }
    const first = await startCapstan(config, { dir })
    const publisher = startPublish({ url: `rtmp://127.0.0.1:${first.rtmpPort}/live/room`, seconds: 30, realtime: true })
    const mediaSessionId = (await first.waitForLog(/RTMP publish room as media session (\S+)/)).match(/media session (\S+)/)![1]
    const post = (pathname: string, body: unknown) =>
      fetch(first.url(pathname), { method: "POST", body: JSON.stringify(body) }).then((r) => r.status)
    const uri = "multi-recorder://crashed"
    assert.strictEqual(await post("/rest-api/multipleRecorder/startup", { uri }), 200)
    await until("the session can be added", async () =>
      (await post("/rest-api/multipleRecorder/add", { uri, mediaSessionId })) === 200 ? true : undefined)
    await sleep(5000)
    const { second, file } = await restartAfterKill(first, publisher, config, dir)
    try {
      assert.strictEqual(path.dirname(file), path.join(dir, "multi"))
      assert.match(path.basename(file), /^multi-recorder___crashed/)
      assert.isAtLeast(countFrames(file, 0), 60, "what was flushed before the kill plays")
      assert.strictEqual(decodeErrors(file), "")
      assert.isTrue(mkvinfoClusters(file).hasCues, "Cues")
      const ran = await until("the multi-record hook", () =>
        fs.existsSync(hookOut) ? fs.readFileSync(hookOut, "utf8").trim() : undefined)
      assert.strictEqual(ran, `multi-recorder___crashed|${file}`)
      assert.deepStrictEqual(fs.readdirSync(path.join(dir, "tmp")), [])
    } finally {
      await second.stop()
    }
  })

  it("recovers one file by hand with `capstan recover`", async () => {
    const dir = tempDir("recover-cli")
    const config = { stream_record_policy_template: "{streamName}", record_tmp_dir: path.join(dir, "tmp") }
    const server = await startCapstan(config, { dir })
    const publisher = startPublish({ url: `rtmp://127.0.0.1:${server.rtmpPort}/live/byhand`, seconds: 30, realtime: true })
    await server.waitForLog(/RTMP publish byhand as media session/)
    await sleep(4000)
    await server.stop("SIGKILL")
    publisher.kill("SIGKILL")
    const leftover = fs.readdirSync(path.join(dir, "tmp")).find((name) => name.endsWith(".tmp"))
    assert.isDefined(leftover)
    const result = spawnSync(path.resolve("node_modules/.bin/node"), [
      "src/main.ts", "recover", path.join(dir, "tmp", leftover!), "--config", server.configPath
    ], { encoding: "utf8", timeout: 60_000 })
    assert.strictEqual(result.status, 0, result.stderr)
    const recovered = path.join(server.recordDir, "byhand.mp4")
    assert.include(result.stdout + result.stderr, recovered)
    assert.strictEqual(decodeErrors(recovered), "")
    assert.isAtLeast(Number(probe(recovered).format.duration), 2)
  })
})
