/**
 * Which audio a recording transcodes, and to what: every container against every audio codec, and the rule that
 * the target is always a codec the container keeps.
 */
import { assert, describe, it } from "@effect/vitest"
import { audioTranscodeTarget } from "../src/actors/audio-transcode-target.ts"
import { MATROSKA_CODECS } from "../src/containers/matroska/index.ts"
import type { AudioCodec } from "../src/media/frame.ts"
import type { ContainerName } from "../src/pipelines/container-format.ts"

const CONTAINERS: ReadonlyArray<ContainerName> = ["mp4", "webm", "mkv", "ts"]
const CODECS: ReadonlyArray<AudioCodec> = ["AAC", "OPUS", "PCMA", "PCMU", "G722"]

describe("audioTranscodeTarget", () => {
  it.each([
    // MP4 keeps AAC and transcodes everything else to it, as before.
    { container: "mp4", codec: "AAC", target: undefined },
    { container: "mp4", codec: "OPUS", target: "AAC" },
    { container: "mp4", codec: "PCMA", target: "AAC" },
    { container: "mp4", codec: "PCMU", target: "AAC" },
    // G.722 gets a target too: its transcoder refuses it, which leaves the audio out rather than the file.
    { container: "mp4", codec: "G722", target: "AAC" },
    // WebM keeps Opus only: AAC (RTMP, RTSP, MPEG-TS) and G.711 become Opus.
    { container: "webm", codec: "OPUS", target: undefined },
    { container: "webm", codec: "AAC", target: "OPUS" },
    { container: "webm", codec: "PCMA", target: "OPUS" },
    { container: "webm", codec: "PCMU", target: "OPUS" },
    // MPEG-TS keeps AAC only.
    { container: "ts", codec: "AAC", target: undefined },
    { container: "ts", codec: "OPUS", target: "AAC" },
    // MKV keeps what it is given.
    { container: "mkv", codec: "AAC", target: undefined },
    { container: "mkv", codec: "OPUS", target: undefined },
    { container: "mkv", codec: "PCMU", target: undefined }
  ] as const)("$codec into $container: $target", ({ container, codec, target }) => {
    assert.strictEqual(audioTranscodeTarget(container, codec), target)
  })

  it("never transcodes to the codec it started from, and always to one the Matroska writers keep", () => {
    for (const container of CONTAINERS) {
      for (const codec of CODECS) {
        const target = audioTranscodeTarget(container, codec)
        if (target === undefined) continue
        assert.notStrictEqual(target, codec)
        if (container === "webm" || container === "mkv") assert.include(MATROSKA_CODECS[container], target)
      }
    }
  })
})
