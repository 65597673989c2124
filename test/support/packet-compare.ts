/**
 * Round-trip judge for whole-server recordings (issue #5): a recording read back with mediabunny's demuxer
 * (`readBack`) is compared packet for packet with what the publisher sent, the reference FLV its tee muxer wrote,
 * read independently by ffprobe (`readMedia`).
 *
 * Video packets are compared as sequences of NAL units, normalised on both sides: FLV, MP4 and Matroska carry
 * 4-byte length-prefixed units, MPEG-TS Annex B with start codes (mediabunny may return either), so each packet is
 * split into its units; access unit delimiters (type 9) are dropped everywhere, and for MPEG-TS also SPS and PPS
 * (7, 8), which the TS writer repeats before key frames. Key flags must match and presentation times agree within
 * 1 ms once both sides are aligned: a recording starts at the first key frame the server saw, so the reference is
 * searched for the key frame whose NAL units equal the recording's first packet, and the difference of their
 * presentation times is the offset applied to every packet of every track (so A/V sync is checked too).
 *
 * AAC audio must be the very same frames: same count, same payload bytes (MPEG-TS carries ADTS: its header is
 * checked and stripped; mediabunny returns raw frames for the other containers), same times within 1 ms.
 * Transcoded audio can only be judged by its count and duration (`assertTranscodedAudio`).
 *
 * Each comparison returns the span of reference packets the recording matched, so callers can check that a file,
 * or a set of rotated fragments, covers the whole publish.
 */
import { assert } from "@effect/vitest"
import { type ReadPacket, readBack } from "../fixtures/containers/source-media.ts"
import { readMedia } from "./ffprobe.ts"

/** Timestamps agree within a millisecond (plus floating point noise). */
const TOLERANCE_SECONDS = 0.001 + 1e-9

export interface ReferencePacket {
  /** Presentation time in seconds. */
  readonly seconds: number
  /** Duration in seconds, as the FLV demuxer reports it. */
  readonly duration: number
  readonly key: boolean
  readonly data: Uint8Array
}

export interface Reference {
  readonly video: ReadonlyArray<ReferencePacket>
  readonly audio: ReadonlyArray<ReferencePacket>
}

/** The published packets of a reference FLV (one video, one audio stream), in decode order, read by ffprobe. */
export const readReference = (flv: string): Reference => {
  const media = readMedia(flv)
  const of = (type: string) => {
    const stream = media.streams.find((s) => s.codecType === type)
    if (stream === undefined) return []
    const [num, den] = stream.timeBase
    return media.packets
      .filter((p) => p.stream === stream.index)
      .map((p) => ({ seconds: (p.pts * num) / den, duration: (p.duration * num) / den, key: p.keyframe, data: p.data }))
  }
  return { video: of("video"), audio: of("audio") }
}

/** How the recording's container carries its packets. */
export type Container = "mp4" | "matroska" | "mpegts"

/** Reference packet indices [from, to) that a recording matched. */
export interface Span {
  readonly from: number
  readonly to: number
}

/** Splits 4-byte length-prefixed NAL units; undefined unless the lengths chain exactly to the end. */
const lengthPrefixed = (data: Uint8Array): Array<Uint8Array> | undefined => {
  const units: Array<Uint8Array> = []
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  let at = 0
  while (at + 4 <= data.byteLength) {
    const length = view.getUint32(at)
    if (length === 0 || at + 4 + length > data.byteLength) return undefined
    units.push(data.subarray(at + 4, at + 4 + length))
    at += 4 + length
  }
  return at === data.byteLength ? units : undefined
}

/** Splits an Annex B byte stream at its 3- or 4-byte start codes (trailing zero bytes belong to the next code). */
const annexB = (data: Uint8Array): Array<Uint8Array> => {
  const starts: Array<[number, number]> = []
  for (let i = 0; i + 3 <= data.byteLength; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      starts.push([i, i + 3])
      i += 2
    }
  }
  return starts.map(([, from], n) => {
    let to = n + 1 < starts.length ? starts[n + 1]![0] : data.byteLength
    while (to > from && data[to - 1] === 0) to--
    return data.subarray(from, to)
  })
}

/**
 * The NAL units of one H.264 access unit in either framing, without AUDs, and without SPS/PPS for MPEG-TS (whose
 * writer repeats them before key frames). Both sides of a comparison go through here with the same container.
 */
export const nalUnits = (data: Uint8Array, container: Container): Array<Uint8Array> => {
  const dropped = container === "mpegts" ? [7, 8, 9] : [9]
  return (lengthPrefixed(data) ?? annexB(data)).filter((unit) => !dropped.includes(unit[0]! & 0x1f))
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

const sameUnits = (a: ReadonlyArray<Uint8Array>, b: ReadonlyArray<Uint8Array>) =>
  a.length === b.length && a.every((unit, i) => sameBytes(unit, b[i]!))

const describeUnits = (units: ReadonlyArray<Uint8Array>) =>
  units.map((unit) => `${unit[0]! & 0x1f}:${unit.byteLength}`).join(" ")

/** A raw AAC frame: for MPEG-TS the ADTS header is checked (frame_length) and stripped. */
export const aacPayload = (data: Uint8Array, container: Container, label: string): Uint8Array => {
  if (container !== "mpegts") return data
  assert.isTrue(data.byteLength >= 7 && data[0] === 0xff && (data[1]! & 0xf0) === 0xf0, `${label}: ADTS syncword`)
  const frameLength = ((data[3]! & 0x03) << 11) | (data[4]! << 3) | (data[5]! >> 5)
  assert.strictEqual(frameLength, data.byteLength, `${label}: ADTS frame_length`)
  return data.subarray((data[1]! & 0x01) === 1 ? 7 : 9)
}

export interface VideoMatch {
  readonly span: Span
  /** Recording time minus reference time, in seconds: apply it to the other tracks too. */
  readonly offset: number
}

/**
 * Every recorded H.264 packet equals the reference's, in order, from the reference key frame matching the first
 * recorded packet on: NAL units, key flag and presentation time (after the offset) within 1 ms.
 */
export const assertVideoMatches = (
  recorded: ReadonlyArray<ReadPacket>,
  reference: ReadonlyArray<ReferencePacket>,
  container: Container
): VideoMatch => {
  assert.isNotEmpty(recorded, "recorded video packets")
  assert.isTrue(recorded[0]!.key, "the recording starts with a key frame")
  const first = nalUnits(recorded[0]!.data, container)
  const from = reference.findIndex((p) => p.key && sameUnits(nalUnits(p.data, container), first))
  assert.isAtLeast(from, 0, `a reference key frame has the NAL units of the first recorded one (${describeUnits(first)})`)
  const offset = recorded[0]!.timestamp - reference[from]!.seconds
  assert.isAtMost(from + recorded.length, reference.length, `${recorded.length} recorded video packets from ${from}`)
  recorded.forEach((packet, i) => {
    const expected = reference[from + i]!
    const label = `video packet ${i} (reference ${from + i})`
    const got = nalUnits(packet.data, container)
    const want = nalUnits(expected.data, container)
    assert.isTrue(sameUnits(got, want), `${label}: NAL units ${describeUnits(got)}, published ${describeUnits(want)}`)
    assert.strictEqual(packet.key, expected.key, `${label}: key flag`)
    const shifted = packet.timestamp - offset
    assert.isAtMost(Math.abs(shifted - expected.seconds), TOLERANCE_SECONDS, `${label}: pts ${shifted} s, published ${expected.seconds} s`)
  })
  return { span: { from, to: from + recorded.length }, offset }
}

/** The index of the reference packet presented at `seconds` (within 1 ms), or -1. */
const atTime = (reference: ReadonlyArray<ReferencePacket>, seconds: number) =>
  reference.findIndex((p) => Math.abs(p.seconds - seconds) <= TOLERANCE_SECONDS)

/**
 * Every recorded AAC frame equals the reference's, in order, from the one presented at the recording's first
 * audio time (after the video's offset) on: payload bytes and presentation time within 1 ms.
 */
export const assertAacMatches = (
  recorded: ReadonlyArray<ReadPacket>,
  reference: ReadonlyArray<ReferencePacket>,
  container: Container,
  offset: number
): Span => {
  assert.isNotEmpty(recorded, "recorded audio packets")
  const from = atTime(reference, recorded[0]!.timestamp - offset)
  assert.isAtLeast(from, 0, `a reference audio packet at ${recorded[0]!.timestamp - offset} s (recorded first)`)
  assert.isAtMost(from + recorded.length, reference.length, `${recorded.length} recorded audio packets from ${from}`)
  recorded.forEach((packet, i) => {
    const expected = reference[from + i]!
    const label = `audio packet ${i} (reference ${from + i})`
    const payload = aacPayload(packet.data, container, label)
    assert.isTrue(sameBytes(payload, expected.data), `${label}: ${payload.byteLength} bytes, published ${expected.data.byteLength}`)
    const shifted = packet.timestamp - offset
    assert.isAtMost(Math.abs(shifted - expected.seconds), TOLERANCE_SECONDS, `${label}: pts ${shifted} s, published ${expected.seconds} s`)
  })
  return { from, to: from + recorded.length }
}

/**
 * Reads an H.264 + AAC recording back with mediabunny and compares both tracks with the reference, packet for
 * packet; returns the reference spans it matched (for `assertCoversPublish`).
 */
export const assertRoundTrip = async (
  file: string,
  reference: Reference,
  container: Container
): Promise<{ readonly video: Span; readonly audio: Span }> => {
  const tracks = await readBack(file)
  assert.deepStrictEqual(tracks.map((t) => t.codec), ["avc", "aac"], `tracks of ${file}`)
  const video = assertVideoMatches(tracks[0]!.packets, reference.video, container)
  const audio = assertAacMatches(tracks[1]!.packets, reference.audio, container, video.offset)
  return { video: video.span, audio }
}

/**
 * A file, or the rotated fragments of one publish in order, covers all of it: the video spans follow each other
 * from the first published packet to the last, and so do the audio spans up to the last published packet; only
 * audio presented before the first video key frame may be left out (a recording starts at that key frame).
 */
export const assertCoversPublish = (
  reference: Reference,
  matched: ReadonlyArray<{ readonly video: Span; readonly audio: Span }>
) => {
  const chain = (spans: ReadonlyArray<Span>, kind: string) =>
    spans.slice(1).forEach((span, i) => assert.strictEqual(span.from, spans[i]!.to, `${kind} of part ${i + 2} follows part ${i + 1}`))
  chain(matched.map((m) => m.video), "video")
  chain(matched.map((m) => m.audio), "audio")
  assert.strictEqual(matched[0]!.video.from, 0, "the recording starts at the first published video packet")
  assert.strictEqual(matched.at(-1)!.video.to, reference.video.length, "the recording ends at the last published video packet")
  const before = reference.audio.filter((p) => p.seconds < reference.video[0]!.seconds).length
  assert.isAtMost(matched[0]!.audio.from, before, `audio from published packet ${matched[0]!.audio.from} (${before} before the key frame)`)
  assert.strictEqual(matched.at(-1)!.audio.to, reference.audio.length, "the recording ends at the last published audio packet")
}

/**
 * Transcoded audio holds as much sound as the published audio it came from: its packets all last one frame (the
 * median duration mediabunny reports: it gives 0 to the last block of a Matroska cluster, which has no duration of
 * its own) and follow each other one frame apart (within the 1 ms rounding of the container's clock), so their
 * count times the frame is the duration; that is
 * within `toleranceSeconds` of the published audio from the recording's first video key frame (`videoStart`,
 * reference time) to the end of the publish, and the transcoded audio starts within `toleranceSeconds` of it.
 */
export const assertTranscodedAudio = (
  recorded: ReadonlyArray<ReadPacket>,
  reference: ReadonlyArray<ReferencePacket>,
  videoStart: number,
  offset: number,
  toleranceSeconds: number
): { readonly recordedSeconds: number; readonly referenceSeconds: number } => {
  assert.isNotEmpty(recorded, "recorded audio packets")
  const durations = recorded.map((p) => p.duration).sort((a, b) => a - b)
  const frame = durations[Math.floor(durations.length / 2)]!
  assert.isAbove(frame, 0, "transcoded audio packets have a duration")
  recorded.slice(1).forEach((packet, i) => {
    const step = packet.timestamp - recorded[i]!.timestamp
    assert.isAtMost(Math.abs(step - frame), TOLERANCE_SECONDS, `transcoded audio packet ${i + 1} is ${step} s after ${i}`)
  })
  const start = recorded[0]!.timestamp - offset
  const recordedSeconds = recorded.length * frame
  const last = reference.at(-1)!
  const referenceSeconds = last.seconds + last.duration - Math.max(videoStart, reference[0]!.seconds)
  const message = `${recorded.length} transcoded packets of ${frame} s from ${start} s, ` +
    `published ${referenceSeconds} s from ${videoStart} s`
  assert.isAtMost(Math.abs(start - videoStart), toleranceSeconds, message)
  assert.isAtMost(Math.abs(recordedSeconds - referenceSeconds), toleranceSeconds, message)
  return { recordedSeconds, referenceSeconds }
}
