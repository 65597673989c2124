/**
 * The recorder's policies end to end with real ffmpeg publishers: rotation by time and by size, the disk space
 * guard (before and during a recording), and the error budget stopping only the corrupted stream's recording.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { type CapstanProcess, startCapstan, tempDir } from "./support/capstan-process.ts"
import { ffmpegPublish, startPublish } from "./support/ffmpeg-publish.ts"
import { countFrames, decodeErrors, packets } from "./support/ffprobe.ts"
import { sleep, until } from "./support/wait.ts"

const findAll = async (server: CapstanProcess) => {
  const response = await fetch(server.url("/rest-api/stream/find_all"), { method: "POST", body: "{}" })
  return (await response.json()) as Array<any>
}

const filesMatching = (dir: string, pattern: RegExp) => fs.readdirSync(dir).filter((name) => pattern.test(name)).sort()

/** Fragments sorted by their rotation index. */
const fragments = (dir: string, stream: string) =>
  filesMatching(dir, new RegExp(`^${stream}_\\d+\\.mp4$`))
    .sort((a, b) => Number(a.match(/_(\d+)\./)![1]) - Number(b.match(/_(\d+)\./)![1]))
    .map((name) => path.join(dir, name))

const freeBytes = (dir: string) => {
  const stats = fs.statfsSync(dir)
  return stats.bavail * stats.bsize
}

describe("rotation", () => {
  it("cuts by time at keyframes with no frame lost or duplicated", async () => {
    const server = await startCapstan({ stream_record_policy_template: "{streamName}", record_rotation: "2" })
    try {
      const reference = path.join(server.dir, "rot.flv")
      const published = await ffmpegPublish({
        url: `rtmp://127.0.0.1:${server.rtmpPort}/live/rot`,
        seconds: 7,
        gop: 15,
        referenceFlv: reference
      })
      assert.strictEqual(published.code, 0, published.stderr)
      await server.waitForLog(/recorded .*rot_4\.mp4/)
      const parts = fragments(server.recordDir, "rot")
      assert.strictEqual(parts.length, 4, parts.join(","))
      const counts = parts.map((part) => countFrames(part, 0))
      assert.strictEqual(counts.reduce((a, b) => a + b, 0), countFrames(reference, 0), `video frames ${counts}`)
      const audio = parts.map((part) => countFrames(part, 1))
      assert.strictEqual(audio.reduce((a, b) => a + b, 0), countFrames(reference, 1), `audio frames ${audio}`)
      for (const part of parts) {
        assert.isTrue(packets(part, 0)[0]!.keyframe, `${part} starts with a keyframe`)
        assert.strictEqual(decodeErrors(part), "")
      }
      // 2 s fragments at 30 fps: all but the last hold exactly 60 frames (GOP 15 divides 60).
      assert.deepStrictEqual(counts.slice(0, 3), [60, 60, 60])
    } finally {
      await server.stop()
    }
  })

  it("cuts by size within one GOP of the limit, names without the index when it is disabled", async () => {
    const server = await startCapstan({
      stream_record_policy_template: "{streamName}-{startTime}",
      record_rotation: "1M",
      record_rotation_index_enabled: "false"
    })
    try {
      const reference = path.join(server.dir, "size.flv")
      const published = await ffmpegPublish({
        url: `rtmp://127.0.0.1:${server.rtmpPort}/live/size`,
        seconds: 8,
        size: "1280x720",
        gop: 15,
        referenceFlv: reference
      })
      assert.strictEqual(published.code, 0, published.stderr)
      await server.waitForLog(/unpublish size/)
      await sleep(1000)
      const parts = filesMatching(server.recordDir, /^size-\d+\.mp4$/)
        .sort((a, b) => Number(a.match(/-(\d+)\./)![1]) - Number(b.match(/-(\d+)\./)![1]))
        .map((name) => path.join(server.recordDir, name))
      assert.isAtLeast(parts.length, 2, "several fragments")
      const total = parts.reduce((sum, part) => sum + countFrames(part, 0), 0)
      assert.strictEqual(total, countFrames(reference, 0))
      const gopBytes = Math.max(...packets(reference, 0).reduce<Array<number>>((gops, packet) => {
        if (packet.keyframe) gops.push(0)
        gops[gops.length - 1]! += packet.size
        return gops
      }, [])) + 15 * 2000
      for (const part of parts.slice(0, -1)) {
        const size = fs.statSync(part).size
        assert.isAtMost(size, 1024 * 1024 + gopBytes, `${part} is within one GOP of the limit`)
        assert.isAtLeast(size, 1024 * 1024 - gopBytes, `${part} is close to the limit`)
        assert.isTrue(packets(part, 0)[0]!.keyframe)
      }
    } finally {
      await server.stop()
    }
  })
})

describe("disk space guard", () => {
  it("refuses to start a recording below file_recorder_min_space and keeps serving", async () => {
    const server = await startCapstan({ file_recorder_min_space: "1000000g", stream_record_policy_template: "{streamName}" })
    try {
      const published = await ffmpegPublish({ url: `rtmp://127.0.0.1:${server.rtmpPort}/live/nospace`, seconds: 1 })
      assert.strictEqual(published.code, 0)
      await server.waitForLog(/Not enough available disk space/)
      assert.deepStrictEqual(filesMatching(server.recordDir, /nospace/), [])
      const session = (await findAll(server)).find((s) => s.name === "nospace")
      assert.strictEqual(session.reason, "Not enough available disk space")
      const response = await fetch(server.url("/rest-api/recorder/find_all"), { method: "POST" })
      assert.strictEqual(response.status, 200, "the server keeps serving")
    } finally {
      await server.stop()
    }
  })

  it("stops a running recording cleanly when space runs low: finalized, playable, hook run", async () => {
    const dir = tempDir("disk")
    const hookOut = path.join(dir, "hook.out")
    const hook = path.join(dir, "hook.sh")
    fs.writeFileSync(hook, `#!/bin/sh\necho "$2" >> ${JSON.stringify(hookOut)}\n`, { mode: 0o755 })
    const filler = path.join(dir, "filler")
    // The threshold sits 200 MB under today's free space; a 400 MB file written mid-recording crosses it.
    const threshold = Math.floor((freeBytes(dir) - 200 * 1024 * 1024) / (1024 * 1024))
    const server = await startCapstan({
      file_recorder_min_space: `${threshold}m`,
      stream_record_policy_template: "{streamName}",
      on_record_hook_script: hook
    }, { dir })
    const publisher = startPublish({ url: `rtmp://127.0.0.1:${server.rtmpPort}/live/filling`, seconds: 30, realtime: true })
    try {
      await server.waitForLog(/RTMP publish filling as media session/)
      await until("recording", async () => (await findAll(server)).find((s) => s.recordFile !== null))
      await sleep(1500)
      const fill = spawnSync("fallocate", ["-l", "400M", filler])
      assert.strictEqual(fill.status, 0, fill.stderr?.toString())
      await server.waitForLog(/Not enough available disk space/, 15_000)
      const file = await until("the finalized file", () => {
        const target = path.join(server.recordDir, "filling.mp4")
        return fs.existsSync(target) ? target : undefined
      })
      assert.strictEqual(decodeErrors(file), "")
      assert.isAtLeast(countFrames(file, 0), 30)
      await until("the hook", () => (fs.existsSync(hookOut) ? true : undefined))
      assert.strictEqual(fs.readFileSync(hookOut, "utf8").trim(), file)
      const session = (await findAll(server)).find((s) => s.name === "filling")
      assert.strictEqual(session.status, "PUBLISHING", "the stream goes on, unrecorded")
      assert.isFalse(session.recording)
      assert.strictEqual(session.reason, "Not enough available disk space")
    } finally {
      fs.rmSync(filler, { force: true })
      publisher.kill("SIGKILL")
      await server.stop()
    }
  })
})

describe("error budget", () => {
  it("stops only the recording of a publisher that sends corrupted NAL units", async () => {
    const server = await startCapstan({ stream_record_policy_template: "{streamName}" })
    try {
      // ffmpeg's noise filter with a fixed amount corrupts the same bytes every run: five access units of this
      // source lose their AVCC framing, three of them within the first half.
      const source = path.join(server.dir, "source.flv")
      const made = spawnSync("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "6",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-f", "flv", source])
      assert.strictEqual(made.status, 0)
      const corrupt = spawn("ffmpeg", ["-v", "error", "-re", "-i", source, "-c", "copy", "-bsf:v", "noise=amount=200",
        "-f", "flv", `rtmp://127.0.0.1:${server.rtmpPort}/live/corrupt`])
      const clean = ffmpegPublish({
        url: `rtmp://127.0.0.1:${server.rtmpPort}/live/clean`,
        seconds: 6,
        realtime: true,
        referenceFlv: path.join(server.dir, "clean.flv")
      })
      await server.waitForLog(/recording of corrupt .* recording stopped: 3 recording errors within 60 minutes/, 20_000)
      assert.match(server.logs(), /corrupt .*dropped a frame: malformed H264 frame/)
      const sessions = await findAll(server)
      const broken = sessions.find((s) => s.name === "corrupt")
      assert.isFalse(broken.recording)
      assert.match(broken.reason, /3 recording errors within 60 minutes/)
      assert.strictEqual((await clean).code, 0)
      await new Promise((resolve) => corrupt.once("exit", resolve))
      const cleanFile = await until("clean.mp4", () => {
        const file = path.join(server.recordDir, "clean.mp4")
        return fs.existsSync(file) ? file : undefined
      })
      assert.strictEqual(countFrames(cleanFile, 0), countFrames(path.join(server.dir, "clean.flv"), 0))
      const corruptFile = path.join(server.recordDir, "corrupt.mp4")
      assert.isTrue(fs.existsSync(corruptFile), "the stopped recording is finalized")
      assert.isBelow(countFrames(corruptFile, 0), 180)
    } finally {
      await server.stop()
    }
  })
})
