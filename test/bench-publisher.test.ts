// The load generator must be right before its numbers mean anything: what it says it sent, nginx-rtmp (an
// independent server) records and ffprobe (an independent reader) counts, frame for frame.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ensureFixture, readFlvTags } from "../bench/flv-fixture.ts"
import { countVideoFrames } from "../bench/frame-count.ts"
import { startNginxRtmp } from "../bench/nginx-rtmp.ts"
import { publishStream } from "../bench/rtmp-publisher.ts"
import { freePort } from "../bench/server-process.ts"

const nginx = (workDir: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const port = await freePort()
      const recordDir = join(workDir, "records")
      return { port, recordDir, server: await startNginxRtmp({ prefix: join(workDir, "nginx"), port, recordDir }) }
    }),
    ({ server }) => Effect.promise(() => server.stop())
  )

const workDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bench-publisher-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

describe("bench/rtmp-publisher against nginx-rtmp record all", () => {
  it.live("every video frame it counts as sent is in the recording", () =>
    Effect.gen(function* () {
      const fixture = readFlvTags(ensureFixture())
      const dir = yield* workDir
      const { port, recordDir, server } = yield* nginx(dir)
      const started = Date.now()
      const options = { host: "127.0.0.1", port, app: "live", streamName: "one", fixture, durationMs: 3000 }
      const report = yield* Effect.promise(() => publishStream({ ...options, mode: "rtmp" }))
      const elapsed = Date.now() - started
      yield* Effect.promise(() => server.stop())

      assert.isUndefined(report.error)
      // 30 fps for 3 s of media, as the fixture's timestamps say, sent in real time (not in a burst).
      const due = fixture.loopTags.filter((t) => t.isVideoFrame && t.timestamp < 3000)
      assert.strictEqual(report.videoFramesSent, due.length)
      assert.strictEqual(report.videoFramesSent, 90)
      assert.isAtLeast(elapsed, 2900)
      const recorded = yield* Effect.promise(() => countVideoFrames(join(recordDir, "one.flv"), "frames"))
      assert.strictEqual(recorded, report.videoFramesSent)
    })
  )
})
