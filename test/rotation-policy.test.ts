import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { AUDIO_LEAD_SECONDS } from "../src/pipelines/keyframe-gate.ts"
import type { Frame, Track } from "../src/media/frame.ts"
import type { ContainerFormat, ContainerWriter } from "../src/pipelines/container-format.ts"
import { ContainerWriteError } from "../src/pipelines/container-format.ts"
import type { ClosedFragment } from "../src/pipelines/recording.ts"
import { Recording } from "../src/pipelines/recording.ts"
import type { FragmentProgress, Rotation } from "../src/pipelines/rotation-policy.ts"
import { shouldRotate } from "../src/pipelines/rotation-policy.ts"

describe("shouldRotate", () => {
  const progressArb = fc.record({
    startSeconds: fc.integer({ min: 0, max: 10_000 }),
    elapsed: fc.integer({ min: 0, max: 10_000 }),
    bytes: fc.integer({ min: 0, max: 1e9 }),
    lastGopBytes: fc.integer({ min: 0, max: 1e8 })
  }).map(({ elapsed, ...rest }): FragmentProgress => ({ ...rest, nowSeconds: rest.startSeconds + elapsed / 10 }))

  it("never rotates when disabled", () => {
    fc.assert(fc.property(progressArb, (progress) => assert.isFalse(shouldRotate({ _tag: "Disabled" }, progress))))
  })

  it.each([
    { elapsed: 19.999, rotate: false },
    { elapsed: 20, rotate: true },
    { elapsed: 20.5, rotate: true }
  ])("a 20 s rotation at $elapsed s: $rotate", ({ elapsed, rotate }) => {
    const progress = { startSeconds: 100, nowSeconds: 100 + elapsed, bytes: 1, lastGopBytes: 1 }
    assert.strictEqual(shouldRotate({ _tag: "Duration", seconds: 20 }, progress), rotate)
  })

  it("a duration rotation, once due, stays due as time goes on, whatever the bytes", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3600 }), progressArb, fc.nat(), (seconds, progress, later) => {
      const rotation: Rotation = { _tag: "Duration", seconds }
      if (shouldRotate(rotation, progress)) {
        assert.isTrue(shouldRotate(rotation, { ...progress, nowSeconds: progress.nowSeconds + later, bytes: 0 }))
      }
      assert.strictEqual(shouldRotate(rotation, progress), progress.nowSeconds - progress.startSeconds >= seconds)
    }))
  })

  it("a size rotation cuts when a next GOP as big as the last would pass the limit, and never cuts empty", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1e9 }), progressArb, (bytes, progress) => {
      const rotation: Rotation = { _tag: "Size", bytes }
      assert.strictEqual(
        shouldRotate(rotation, progress),
        progress.bytes > 0 && progress.bytes + progress.lastGopBytes > bytes
      )
      assert.isFalse(shouldRotate(rotation, { ...progress, bytes: 0, lastGopBytes: 0 }))
    }))
  })
})

/** A ContainerFormat double that keeps the frames of each file it opens, to look at the cuts Recording makes. */
const memoryFormat = (failOn?: { readonly file: number; readonly frame: number }) => {
  const files: Array<Array<{ readonly trackIndex: number; readonly frame: Frame }>> = []
  const format: ContainerFormat = {
    name: "mp4",
    extension: "mp4",
    open: () => {
      const frames: Array<{ readonly trackIndex: number; readonly frame: Frame }> = []
      const file = files.push(frames)
      let bytes = 0
      const writer: ContainerWriter = {
        push: (trackIndex, frame) => {
          if (failOn?.file === file && failOn.frame === frames.length) return new ContainerWriteError("injected")
          frames.push({ trackIndex, frame })
          bytes += frame.data.length
          return undefined
        },
        bytesWritten: () => bytes,
        finalize: (path) => Effect.succeed({ path, bytes, durationSeconds: 0 }),
        abort: () => Effect.void
      }
      return writer
    }
  }
  return { format, files }
}

const TIMESCALE = 1000
const videoTrack: Track = {
  kind: "video",
  codec: "H264",
  timescale: TIMESCALE,
  width: 2,
  height: 2,
  config: new Uint8Array()
}
const audioTrack: Track = {
  kind: "audio",
  codec: "AAC",
  timescale: TIMESCALE,
  sampleRate: 48000,
  channels: 2,
  config: new Uint8Array()
}

const frameOf = (kind: Frame["kind"], dts: number, size: number, keyframe: boolean): Frame => ({
  kind,
  dts,
  pts: dts,
  keyframe,
  data: new Uint8Array(size)
})

/**
 * A random stream: a few delta frames before the first keyframe, then GOPs of random lengths and frame sizes, and
 * optionally audio interleaved in decode order. Video sits on even milliseconds and audio on odd ones, so the
 * order of frames of equal time never matters.
 */
const streamArb = fc.record({
  leading: fc.integer({ min: 0, max: 4 }),
  videoStepMs: fc.integer({ min: 5, max: 50 }).map((half) => 2 * half),
  gops: fc.array(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 40, size: "medium" }), {
    minLength: 3,
    maxLength: 16,
    size: "medium"
  }),
  audio: fc.option(
    fc.record({
      stepMs: fc.integer({ min: 10, max: 32 }).map((half) => 2 * half),
      size: fc.integer({ min: 1, max: 400 })
    }),
    { nil: undefined }
  )
}).map(({ audio, gops, leading, videoStepMs }) => {
  const video: Array<Frame> = []
  for (let i = 0; i < leading; i++) video.push(frameOf("video", video.length * videoStepMs, 500, false))
  for (const gop of gops) {
    gop.forEach((size, i) => video.push(frameOf("video", video.length * videoStepMs, size, i === 0)))
  }
  const end = video.at(-1)!.dts
  const sound: Array<Frame> = []
  if (audio !== undefined) {
    for (let dts = 1; dts <= end + 1; dts += audio.stepMs) sound.push(frameOf("audio", dts, audio.size, true))
  }
  const frames = [...video, ...sound].sort((a, b) => a.dts - b.dts)
  const firstKey = video.find((frame) => frame.keyframe)!.dts
  const fromKey = frames.filter((frame) => frame.dts >= firstKey)
  const leadMs = AUDIO_LEAD_SECONDS * TIMESCALE
  const lead = frames.filter((frame) => frame.kind === "audio" && frame.dts < firstKey && frame.dts >= firstKey - leadMs)
  return {
    tracks: audio === undefined ? [videoTrack] : [videoTrack, audioTrack],
    frames,
    /**
     * What the keyframe gate lets through: video from the first keyframe on, and audio from just before it
     * (released right after the keyframe, as it was buffered while waiting for it).
     */
    recorded: [fromKey[0]!, ...lead, ...fromKey.slice(1)]
  }
})

const audioOnlyArb = fc.record({
  stepMs: fc.integer({ min: 10, max: 100 }),
  sizes: fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1, maxLength: 400, size: "medium" })
}).map(({ sizes, stepMs }) => {
  const frames = sizes.map((size, i) => frameOf("audio", 1000 + i * stepMs, size, false))
  return { tracks: [audioTrack], frames, recorded: frames }
})

interface Fragment {
  readonly frames: ReadonlyArray<Frame>
  readonly closed: ClosedFragment
}

/** Pushes every frame through a Recording and returns the fragments in the order they were closed. */
const recordAll = (
  tracks: ReadonlyArray<Track>,
  frames: ReadonlyArray<Frame>,
  rotation: Rotation
): Array<Fragment> => {
  const { files, format } = memoryFormat()
  const spec = {
    streamName: "test",
    mediaSessionId: "m",
    sessionId: "s",
    login: "",
    rotation,
    audioBufferMax: 100,
    format,
    tmpPathFor: (index: number) => `/tmp/test_${index}.tmp`
  }
  const recording = new Recording(spec, tracks, () => 1_700_000_000_000)
  const closed: Array<ClosedFragment> = []
  for (const frame of frames) {
    const error = recording.push(tracks.findIndex((track) => track.kind === frame.kind), frame)
    if (error !== undefined) throw new Error(error.message)
    closed.push(...recording.takeClosed())
  }
  closed.push(...recording.close())
  assert.strictEqual(closed.length, files.length, "every opened file is closed once")
  return closed.map((fragment, i) => ({ closed: fragment, frames: files[i]!.map(({ frame }) => frame) }))
}

const seconds = (frame: Frame): number => frame.dts / TIMESCALE
const sizeOf = (frames: ReadonlyArray<Frame>): number => frames.reduce((sum, frame) => sum + frame.data.length, 0)
const isKey = (frame: Frame): boolean => frame.kind === "video" && frame.keyframe

/** The recorded frames split at the points where a cut is allowed: keyframes, or every frame when audio-only. */
const cutUnits = (recorded: ReadonlyArray<Frame>, audioOnly: boolean): Array<Array<Frame>> => {
  const units: Array<Array<Frame>> = []
  for (const frame of recorded) {
    if (audioOnly || isKey(frame) || units.length === 0) units.push([])
    units.at(-1)!.push(frame)
  }
  return units
}

/** The longest time between two consecutive cut points, the last unit running to the end of the stream. */
const longestUnitSeconds = (units: ReadonlyArray<ReadonlyArray<Frame>>): number =>
  Math.max(...units.slice(1).map((unit, i) => seconds(unit[0]!) - seconds(units[i]![0]!)), 0)

const rotationArb: fc.Arbitrary<Rotation> = fc.oneof(
  fc.integer({ min: 1, max: 3 }).map((s): Rotation => ({ _tag: "Duration", seconds: s })),
  fc.integer({ min: 500, max: 30_000 }).map((bytes): Rotation => ({ _tag: "Size", bytes }))
)

describe("Recording rotation over random GOP layouts", () => {
  const anyStreamArb = fc.oneof(
    streamArb.map((stream) => ({ ...stream, audioOnly: false })),
    audioOnlyArb.map((stream) => ({ ...stream, audioOnly: true }))
  )

  it("records every frame after the first keyframe exactly once, in order, across its fragments", () => {
    fc.assert(fc.property(anyStreamArb, rotationArb, ({ frames, recorded, tracks }, rotation) => {
      const fragments = recordAll(tracks, frames, rotation)
      assert.deepStrictEqual(fragments.flatMap((fragment) => fragment.frames), recorded)
      assert.strictEqual(fragments.reduce((sum, fragment) => sum + fragment.closed.frames, 0), recorded.length)
      fragments.forEach((fragment) => assert.strictEqual(fragment.closed.frames, fragment.frames.length))
    }))
  })

  it("starts every fragment of a stream with video at a video keyframe", () => {
    fc.assert(fc.property(streamArb, rotationArb, ({ frames, tracks }, rotation) => {
      for (const fragment of recordAll(tracks, frames, rotation)) assert.isTrue(isKey(fragment.frames[0]!))
    }))
  })

  it("chains the fragments' times: each one ends where the next one starts, indexes count from 1", () => {
    fc.assert(fc.property(anyStreamArb, rotationArb, ({ frames, tracks }, rotation) => {
      const fields = recordAll(tracks, frames, rotation).map((fragment) => fragment.closed.fields)
      fields.forEach((field, i) => {
        assert.strictEqual(field.index, i + 1)
        assert.strictEqual(field.durationMillis, field.endTime! - field.startTime)
        if (i > 0) assert.strictEqual(field.startTime, fields[i - 1]!.endTime)
      })
    }))
  })

  it("cuts duration fragments at the first cut point at least the rotation after their start", () => {
    fc.assert(fc.property(anyStreamArb, fc.integer({ min: 1, max: 3 }), (stream, limit) => {
      const fragments = recordAll(stream.tracks, stream.frames, { _tag: "Duration", seconds: limit })
      const longest = longestUnitSeconds(cutUnits(stream.recorded, stream.audioOnly))
      fragments.forEach((fragment, i) => {
        const start = seconds(fragment.frames[0]!)
        const inner = cutUnits(fragment.frames, stream.audioOnly).slice(1).map((unit) => seconds(unit[0]!) - start)
        assert.isTrue(inner.every((elapsed) => elapsed < limit), "no cut point inside is already due")
        const next = fragments[i + 1]
        if (next === undefined) return
        const length = seconds(next.frames[0]!) - start
        assert.isAtLeast(length, limit)
        assert.isBelow(length, limit + longest)
      })
    }))
  })

  it("keeps size fragments within one GOP of the limit, and cuts none below half of it", () => {
    fc.assert(fc.property(anyStreamArb, fc.integer({ min: 500, max: 30_000 }), (stream, limit) => {
      const fragments = recordAll(stream.tracks, stream.frames, { _tag: "Size", bytes: limit })
      const biggest = Math.max(...cutUnits(stream.recorded, stream.audioOnly).map(sizeOf))
      fragments.forEach((fragment, i) => {
        const bytes = sizeOf(fragment.frames)
        assert.isAtMost(bytes, limit + biggest)
        if (i < fragments.length - 1) assert.isAbove(2 * bytes, limit)
      })
    }))
  })

  it("cuts audio-only streams at any frame: duration fragments overrun by less than one frame", () => {
    fc.assert(fc.property(audioOnlyArb, fc.integer({ min: 1, max: 3 }), ({ frames, tracks }, limit) => {
      const fragments = recordAll(tracks, frames, { _tag: "Duration", seconds: limit })
      const step = frames.length > 1 ? seconds(frames[1]!) - seconds(frames[0]!) : 0
      fragments.slice(0, -1).forEach((fragment, i) => {
        const length = seconds(fragments[i + 1]!.frames[0]!) - seconds(fragment.frames[0]!)
        assert.isAtLeast(length, limit)
        assert.isBelow(length, limit + step)
      })
    }))
  })

  it("writes a single fragment when rotation is disabled", () => {
    fc.assert(fc.property(anyStreamArb, ({ frames, recorded, tracks }) => {
      const fragments = recordAll(tracks, frames, { _tag: "Disabled" })
      assert.strictEqual(fragments.length, 1)
      assert.strictEqual(fragments[0]!.frames.length, recorded.length)
      assert.isFalse(fragments[0]!.closed.fields.rotating)
    }))
  })

  // When the first frame of a new fragment fails to be written, the fragment the same push closed must still be
  // handed back for finalizing.
  it("hands back the fragment a rotation closed even when the next fragment's first write fails", () => {
    const { files, format } = memoryFormat({ file: 2, frame: 0 })
    const spec = {
      streamName: "test",
      mediaSessionId: "m",
      sessionId: "s",
      login: "",
      rotation: { _tag: "Duration", seconds: 1 } as const,
      audioBufferMax: 0,
      format,
      tmpPathFor: (index: number) => `/tmp/test_${index}.tmp`
    }
    const recording = new Recording(spec, [videoTrack], () => 0)
    assert.strictEqual(recording.push(0, frameOf("video", 0, 10, true)), undefined)
    assert.strictEqual(recording.push(0, frameOf("video", 500, 10, false)), undefined)
    const failed = recording.push(0, frameOf("video", 1000, 10, true))
    assert.instanceOf(failed, ContainerWriteError)
    const closed = [...recording.takeClosed(), ...recording.close()]
    assert.strictEqual(files.length, 2)
    assert.deepStrictEqual(closed.map((fragment) => fragment.fields.index), [1, 2], "no fragment is lost")
  })
})
