/**
 * The multi-recorder end to end: real ffmpeg RTMP publishers joining and leaving one multi-recording through the
 * manual's REST API, the file judged by ffprobe (tracks, names) and mp4box (edit lists that start with a pause).
 */
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { createFile, MP4BoxBuffer } from "mp4box"
import { startCapstan, tempDir } from "./support/capstan-process.ts"
import { post, publishingSessionId as sessionId } from "./support/capstan-rest.ts"
import { startPublish } from "./support/ffmpeg-publish.ts"
import { mkvinfoClusters, mkvmergeIdentify } from "./fixtures/containers/media-judges.ts"
import { countFrames, decodeErrors, packets, probe } from "./support/ffprobe.ts"
import { sleep, until } from "./support/wait.ts"

/** Edit lists of every track, in movie timescale units, read by mp4box. */
const editLists = (file: string) =>
  new Promise<Array<{ id: number; entries: Array<{ segment_duration: number; media_time: number }> }>>((resolve, reject) => {
    const mp4 = createFile()
    mp4.onError = (error: unknown) => reject(error)
    mp4.onReady = () => {
      const moov = (mp4 as any).moov
      resolve(moov.traks.map((trak: any) => ({ id: trak.tkhd.track_id, entries: trak.edts?.elst.entries ?? [] })))
    }
    const bytes = fs.readFileSync(file)
    mp4.appendBuffer(MP4BoxBuffer.fromArrayBuffer(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), 0))
    mp4.flush()
  })

describe("multiple recorder", () => {
  const joinLeaveAndComeBack = async (format: "mp4" | "mkv", judge: (file: string, ids: { alice: string; bob: string }) => Promise<void>) => {
    const dir = tempDir("multi")
    const hookOut = path.join(dir, "hook.out")
    const hook = path.join(dir, "multi-hook.sh")
    // The hook waits (at most 30 s) for the test to release it: terminate must answer while it still runs.
    const release = path.join(dir, "release")
    const wait = `i=0; while [ ! -f ${JSON.stringify(release)} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done`
    fs.writeFileSync(hook, `#!/bin/sh\n${wait}\necho "$1|$2" > ${JSON.stringify(hookOut)}\n`, { mode: 0o755 })
    const server = await startCapstan({
      record_streams: "false",
      multi_record_dir: path.join(dir, "multi"),
      stream_record_policy_template: "{streamName}-{startTime}-{startTimeMillis}-{endTime}-{endTimeMillis}",
      on_multiple_record_hook_script: hook,
      multi_record_format: format
    }, { dir })
    const alice = startPublish({ url: `rtmp://127.0.0.1:${server.rtmpPort}/live/alice`, seconds: 14, realtime: true })
    const bob = startPublish({
      url: `rtmp://127.0.0.1:${server.rtmpPort}/live/bob`,
      seconds: 14,
      realtime: true,
      size: "320x240"
    })
    try {
      const uri = "multi-recorder://test-record"
      const aliceId = await sessionId(server, "alice")
      const bobId = await sessionId(server, "bob")
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/startup", { uri })).status, 200)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/startup", { uri })).status, 409)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/add", { uri, mediaSessionId: aliceId })).status, 200)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/add", { uri, mediaSessionId: aliceId })).status, 409)
      const unknown = await post(server, "/rest-api/multipleRecorder/add", { uri, mediaSessionId: "nope" })
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/add", { uri: "multi-recorder://none", mediaSessionId: aliceId })).status, 404)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/add", { mediaSessionId: aliceId })).status, 400)
      await sleep(2000)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/add", { uri, mediaSessionId: bobId })).status, 200)
      const listed = (await post(server, "/rest-api/multipleRecorder/find_all", {})).json
      assert.deepStrictEqual(listed[0].mediaSessionsId, [aliceId, bobId])
      assert.strictEqual(listed[0].uri, uri)
      assert.match(listed[0].fileName, new RegExp(`^multi-recorder___test-record--1-\\d+--1-\\{endTimeMillis\\}\\.${format}$`))
      await sleep(3000)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/remove", { uri, mediaSessionId: bobId })).status, 200)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/remove", { uri, mediaSessionId: bobId })).status, 404)
      await sleep(2000)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/add", { uri, mediaSessionId: bobId })).status, 200)
      await sleep(2000)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/terminate", { uri })).status, 200)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/terminate", { uri })).status, 404)
      assert.isFalse(fs.existsSync(hookOut), "terminate answered before the hook finished")
      fs.writeFileSync(release, "")

      const line = await until("the multiple record hook", () =>
        fs.existsSync(hookOut) ? fs.readFileSync(hookOut, "utf8").trim() : undefined)
      const [hookUri, file] = line.split("|")
      assert.strictEqual(hookUri, uri)
      assert.match(path.basename(file!), new RegExp(`^multi-recorder___test-record--1-\\d+--1-\\d+\\.${format}$`))
      assert.strictEqual(path.dirname(file!), path.join(dir, "multi"))
      assert.deepStrictEqual(fs.readdirSync(path.join(dir, "multi")), [path.basename(file!)], "no temporary file left")
      await judge(file!, { alice: aliceId, bob: bobId })
    } finally {
      alice.kill("SIGKILL")
      bob.kill("SIGKILL")
      await server.stop()
    }
  }

  it("records streams that join, leave and come back into one MP4 with paused edit lists", () =>
    joinLeaveAndComeBack("mp4", async (file, { alice: aliceId, bob: bobId }) => {

      const streams = probe(file!).streams
      assert.deepStrictEqual(streams.map((s) => s.codec_type), ["video", "audio", "video", "audio", "video", "audio"])
      const names = streams.map((s: any) => s.tags?.handler_name)
      assert.deepStrictEqual(names, [
        `capstan:${aliceId}:alice`, `capstan:${aliceId}:alice`,
        `capstan:${bobId}:bob`, `capstan:${bobId}:bob`,
        `capstan:${bobId}:bob`, `capstan:${bobId}:bob`
      ])
      assert.strictEqual(decodeErrors(file!), "")
      const edits = await editLists(file!)
      assert.deepStrictEqual(edits.map((e) => e.id), [1, 2, 3, 4, 5, 6])
      // Each stream joins at its next keyframe (GOP 1 s): Alice within a second of the start, Bob's two
      // appearances after pauses of about 2 s and 7 s.
      const pauseMs = (track: number) =>
        edits[track]!.entries.find((entry) => entry.media_time === -1)?.segment_duration ?? 0
      assert.isAtMost(pauseMs(0), 1100)
      assert.approximately(pauseMs(2), 2500, 800)
      assert.approximately(pauseMs(4), 7500, 1000)
      assert.isAbove(countFrames(file!, 2), 60)
    }))

  it("records them into one MKV whose late tracks start where each stream joined", () =>
    joinLeaveAndComeBack("mkv", async (file, { alice: aliceId, bob: bobId }) => {
      const probed = probe(file)
      assert.deepStrictEqual(probed.streams.map((s) => s.codec_type), ["video", "audio", "video", "audio", "video", "audio"])
      assert.deepStrictEqual(probed.streams.map((s: any) => s.codec_name), ["h264", "aac", "h264", "aac", "h264", "aac"])
      assert.deepStrictEqual(probed.streams.map((s: any) => s.tags?.title), [
        `capstan:${aliceId}:alice`, `capstan:${aliceId}:alice`,
        `capstan:${bobId}:bob`, `capstan:${bobId}:bob`,
        `capstan:${bobId}:bob`, `capstan:${bobId}:bob`
      ])
      assert.strictEqual(decodeErrors(file), "")
      // Each stream starts at its next keyframe (GOP 1 s) after it was added: Alice at once, Bob after about 2 s
      // and 7 s (his audio with his video). The first packets tell (ffprobe's start_time of a stream without packets
      // in its probing window is the file's).
      assert.isTrue(probed.streams.every((s: any) => s.time_base === "1/1000"), "Matroska times in ms")
      const starts = probed.streams.map((_, i) => Math.min(...packets(file, i).map((p) => p.pts)) / 1000)
      assert.isAtMost(starts[0]!, 1.1)
      assert.approximately(starts[2]!, 2.5, 0.8)
      assert.approximately(starts[4]!, 7.5, 1)
      assert.approximately(starts[3]!, starts[2]!, 0.1)
      assert.approximately(starts[5]!, starts[4]!, 0.1)
      const mkv = mkvmergeIdentify(file)
      assert.isTrue(mkv.recognized && mkv.supported, mkv.errors.join("; "))
      assert.approximately(mkv.durationSeconds ?? 0, Number(probed.format.duration), 0.1)
      assert.isTrue(mkvinfoClusters(file).hasCues, "Cues")
      assert.isAbove(countFrames(file, 2), 60)
      // Bob's first stay ends when he is removed, 3 s after he was added: it lasts 2 to 3 s, as he joined at his
      // next key frame (GOP 1 s) after the add.
      const bobFirst = packets(file, 2)
      assert.approximately((bobFirst.at(-1)!.pts - bobFirst[0]!.pts) / 1000, 2.5, 0.7)
    }))

  it("mixes a finished multi-recording with the default hook and posts the manual's callback", async () => {
    const bodies: Array<any> = []
    const receiver = http.createServer((request, response) => {
      let text = ""
      request.on("data", (chunk: Buffer) => (text += chunk.toString()))
      request.on("end", () => {
        bodies.push({ contentType: request.headers["content-type"], url: request.url, body: JSON.parse(text) })
        response.end("ok")
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
    const dir = tempDir("mix")
    const mixerConfig = path.join(dir, "offline_mixer.json")
    const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/multiRecorderCallback`
    fs.writeFileSync(mixerConfig, JSON.stringify({ hasVideo: "true", hasAudio: "true", mixerDisplayStreamName: true, callbackUrl }))
    const server = await startCapstan({ record_streams: "false", stream_record_policy_template: "{streamName}" }, {
      dir,
      env: { CAPSTAN_OFFLINE_MIXER_CONFIG: mixerConfig }
    })
    const carol = startPublish({ url: `rtmp://127.0.0.1:${server.rtmpPort}/live/carol`, seconds: 10, realtime: true })
    const dave = startPublish({ url: `rtmp://127.0.0.1:${server.rtmpPort}/live/dave`, seconds: 10, realtime: true })
    try {
      const uri = "multi-recorder://room-mix"
      const ids = [await sessionId(server, "carol"), await sessionId(server, "dave")]
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/startup", { uri })).status, 200)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/add", { uri, mediaSessionId: ids[0] })).status, 200)
      await sleep(1500)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/add", { uri, mediaSessionId: ids[1] })).status, 200)
      await sleep(3000)
      assert.strictEqual((await post(server, "/rest-api/multipleRecorder/terminate", { uri })).status, 200)
      const callback = await until("the mixer's callback", () => bodies[0], 120_000)
      assert.strictEqual(callback.url, "/multiRecorderCallback")
      assert.strictEqual(callback.contentType, "application/json")
      const file = path.join(server.recordDir, "multi-recorder___room-mix.mp4")
      const mixed = path.join(server.recordDir, "multi-recorder___room-mix_mixed.mp4")
      assert.deepInclude(callback.body, { multiRecorderFilePath: file, recorderUri: uri })
      assert.strictEqual(callback.body.mixerParams[0].path, mixed)
      const streams = probe(mixed).streams
      assert.deepStrictEqual(streams.map((s) => s.codec_type), ["video", "audio"])
      assert.approximately(Number(probe(mixed).format.duration), Number(probe(file).format.duration), 0.2)
      assert.strictEqual(decodeErrors(mixed), "")
    } finally {
      carol.kill("SIGKILL")
      dave.kill("SIGKILL")
      receiver.close()
      await server.stop()
    }
  })

  it("refuses to start a multi-recording below file_recorder_min_space", async () => {
    const server = await startCapstan({ file_recorder_min_space: "1000000g" })
    try {
      const refused = await post(server, "/rest-api/multipleRecorder/startup", { uri: "multi-recorder://full" })
      assert.strictEqual(refused.status, 500)
      assert.strictEqual(refused.json.reason, "Not enough available disk space")
      assert.deepStrictEqual((await post(server, "/rest-api/multipleRecorder/find_all", {})).json, [])
      await server.waitForLog(/Not enough available disk space: multi-recorder multi-recorder:\/\/full not started/)
    } finally {
      await server.stop()
    }
  })
})
