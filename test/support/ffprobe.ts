/**
 * ffprobe/ffmpeg as independent judges of media files in tests, plus a small top-level box lister.
 * All calls are synchronous (short, bounded by a timeout) so they fit inside Effect.sync or plain tests.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import type { Frame, Track } from "../../src/media/frame.ts"

const TIMEOUT_MS = 60_000

interface Ran {
  readonly stdout: string
  readonly stderr: string
  readonly status: number | null
}

const run = (command: string, args: ReadonlyArray<string>): Ran => {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: TIMEOUT_MS, maxBuffer: 512 * 1024 * 1024 })
  if (result.error !== undefined) throw result.error
  return { stdout: result.stdout, stderr: result.stderr, status: result.status }
}

const ffprobeJson = (args: ReadonlyArray<string>): any => {
  const { stdout, stderr, status } = run("ffprobe", ["-v", "error", "-of", "json", ...args])
  if (status !== 0) throw new Error(`ffprobe ${args.join(" ")} failed: ${stderr}`)
  return JSON.parse(stdout)
}

export interface ProbedStream {
  readonly index: number
  readonly codec_name: string
  readonly codec_type: "video" | "audio" | string
  readonly time_base: string
  readonly start_time?: string
  readonly duration?: string
  readonly nb_frames?: string
  readonly width?: number
  readonly height?: number
  readonly sample_rate?: string
  readonly channels?: number
}

export interface Probe {
  readonly streams: ReadonlyArray<ProbedStream>
  readonly format: { readonly format_name: string; readonly duration?: string; readonly size?: string }
}

/** `ffprobe -show_streams -show_format`. */
export const probe = (path: string): Probe => ffprobeJson(["-show_streams", "-show_format", path])

/** Frames ffprobe decodes in one stream (`-count_frames`). */
/** Packets ffprobe finds in all streams (`-count_packets`): the samples a file's index references. */
export const packetTotal = (path: string): number =>
  ffprobeJson(["-count_packets", "-show_entries", "stream=nb_read_packets", path]).streams
    .reduce((sum: number, stream: any) => sum + Number(stream.nb_read_packets), 0)

export const countFrames = (path: string, stream: number): number => {
  const out = ffprobeJson([
    "-count_frames", "-select_streams", String(stream), "-show_entries", "stream=nb_read_frames", path
  ])
  return Number(out.streams[0].nb_read_frames)
}

/**
 * What ffmpeg prints decoding every stream of `path` to the null muxer: empty when the whole file decodes cleanly.
 * The decoded frames keep the file's own time base (`-enc_time_base -1`): with the default (1 / nominal frame
 * rate), frames with millisecond timestamps from a track that starts off the frame grid (a stream joining a
 * multi-recording, WebRTC's variable rate) round onto the same tick and the null muxer reports "non
 * monotonically increasing dts" for a file that has none. Real duplicate timestamps are still reported.
 */
export const decodeErrors = (path: string): string => {
  const args = ["-nostdin", "-v", "error", "-i", path, "-map", "0", "-enc_time_base", "-1", "-f", "null", "-"]
  return run("ffmpeg", args).stderr.trim()
}

export interface ProbedPacket {
  readonly pts: number
  readonly dts: number
  readonly duration: number
  readonly keyframe: boolean
  readonly discard: boolean
  readonly size: number
  /** Byte offset of the packet in the file. */
  readonly pos: number
}

/** Packets of one stream in file (decode) order, timestamps in the stream's time_base. */
export const packets = (path: string, stream: number): Array<ProbedPacket> => readPackets(path, stream, [])

/**
 * The packets of one stream that a seek reads: `-read_intervals START%+SECONDS` seeks to START (ffmpeg lands on
 * the key frame at or before it, found through the file's index) and reads SECONDS from the first packet there.
 */
export const packetsFrom = (path: string, stream: number, startSeconds: number, seconds: number) =>
  readPackets(path, stream, ["-read_intervals", `${startSeconds}%+${seconds}`])

const readPackets = (path: string, stream: number, extra: ReadonlyArray<string>): Array<ProbedPacket> => {
  const out = ffprobeJson([
    "-select_streams", String(stream), ...extra, "-show_entries", "packet=pts,dts,duration,flags,size,pos", path
  ])
  return out.packets.map((p: any) => ({
    pts: Number(p.pts),
    dts: Number(p.dts),
    duration: Number(p.duration),
    keyframe: String(p.flags).includes("K"),
    discard: String(p.flags).includes("D"),
    size: Number(p.size),
    pos: Number(p.pos)
  }))
}

export interface Box {
  readonly type: string
  readonly offset: number
  readonly size: number
}

/** The top-level boxes of an ISO BMFF file, read with our own minimal parser (size, type, largesize). */
export const topLevelBoxes = (path: string): Array<Box> => {
  const fd = fs.openSync(path, "r")
  try {
    const total = fs.fstatSync(fd).size
    const header = Buffer.alloc(16)
    const boxes: Array<Box> = []
    let offset = 0
    while (offset + 8 <= total) {
      fs.readSync(fd, header, 0, 16, offset)
      let size = header.readUInt32BE(0)
      const type = header.toString("latin1", 4, 8)
      if (size === 1) size = Number(header.readBigUInt64BE(8))
      else if (size === 0) size = total - offset
      if (size < 8) throw new Error(`bad box size ${size} at ${offset} in ${path}`)
      boxes.push({ type, offset, size })
      offset += size
    }
    return boxes
  } finally {
    fs.closeSync(fd)
  }
}

/** The root-level atoms in the order ffmpeg's mov demuxer reads them (from `-v trace`). */
export const traceTopLevelBoxes = (path: string): Array<string> => {
  const { stderr } = run("ffprobe", ["-v", "trace", path])
  return [...stderr.matchAll(/type:'(.{4})' parent:'root'/g)].map((m) => m[1]!)
}

/** The bytes of a `-show_data` field: the hex lines (`00000000: 0000 02ac ...  ascii`) that follow `name=`. */
const dataField = (section: string, name: string): Uint8Array => {
  const start = section.indexOf(`\n${name}=\n`)
  if (start < 0) return new Uint8Array(0)
  const bytes: Array<number> = []
  for (const line of section.slice(start + name.length + 3).split("\n")) {
    if (!/^[0-9a-f]{8}: /.test(line)) break
    const hex = line.slice(10, 50).replace(/ /g, "")
    for (let i = 0; i + 1 < hex.length; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16))
  }
  return Uint8Array.from(bytes)
}

export interface SourceStream {
  readonly index: number
  readonly codecType: string
  readonly codecName: string
  /** [numerator, denominator] of the stream's time_base. */
  readonly timeBase: readonly [number, number]
  /** avcC for H.264 in MP4, AudioSpecificConfig for AAC. */
  readonly extradata: Uint8Array
  readonly width: number
  readonly height: number
  readonly sampleRate: number
  readonly channels: number
}

export interface SourcePacket extends ProbedPacket {
  readonly stream: number
  readonly data: Uint8Array
}

/** Streams and packets with their bytes (`-show_data`), in file order: an independent demuxer for test sources. */
export const readMedia = (path: string): { streams: Array<SourceStream>; packets: Array<SourcePacket> } => {
  const args = ["-v", "error", "-show_streams", "-show_packets", "-show_data", path]
  const { stdout, status, stderr } = run("ffprobe", args)
  if (status !== 0) throw new Error(`ffprobe -show_data ${path} failed: ${stderr}`)
  const streams: Array<SourceStream> = []
  const packetList: Array<SourcePacket> = []
  for (const section of stdout.split(/\n(?=\[(?:STREAM|PACKET)\])/)) {
    const field = (name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(section)?.[1] ?? ""
    if (section.startsWith("[STREAM]")) {
      const [num, den] = field("time_base").split("/").map(Number)
      streams.push({
        index: Number(field("index")),
        codecType: field("codec_type"),
        codecName: field("codec_name"),
        timeBase: [num!, den!],
        extradata: dataField(section, "extradata"),
        width: Number(field("width")) || 0,
        height: Number(field("height")) || 0,
        sampleRate: Number(field("sample_rate")) || 0,
        channels: Number(field("channels")) || 0
      })
    } else if (section.startsWith("[PACKET]")) {
      const flags = field("flags")
      packetList.push({
        stream: Number(field("stream_index")),
        pts: Number(field("pts")),
        dts: Number(field("dts")),
        duration: Number(field("duration")),
        keyframe: flags.includes("K"),
        discard: flags.includes("D"),
        size: Number(field("size")),
        pos: Number(field("pos")),
        data: dataField(section, "data")
      })
    }
  }
  return { streams, packets: packetList }
}

export interface CoreMedia {
  readonly tracks: Array<Track>
  /** Frames in file order, each with the index of its track. */
  readonly frames: Array<{ readonly track: number; readonly frame: Frame }>
}

/**
 * A source file's streams and packets as the core model's Tracks and Frames (H.264 stays AVCC with its avcC,
 * AAC stays raw with its AudioSpecificConfig). Packets ffmpeg marks for discard (AAC priming) are left out.
 * `milliseconds` rounds every timestamp to a 1 kHz timescale, as RTMP delivers them.
 */
export const coreMedia = (path: string, options: { readonly milliseconds?: boolean } = {}): CoreMedia => {
  const media = readMedia(path)
  const tracks = media.streams.map((s): Track => {
    const timescale = options.milliseconds ? 1000 : s.timeBase[1] / s.timeBase[0]
    return s.codecType === "video"
      ? { kind: "video", codec: "H264", timescale, width: s.width, height: s.height, config: s.extradata }
      : { kind: "audio", codec: "AAC", timescale, sampleRate: s.sampleRate, channels: s.channels, config: s.extradata }
  })
  const rescale = (stream: SourceStream, t: number) =>
    options.milliseconds ? Math.round((t * 1000 * stream.timeBase[0]) / stream.timeBase[1]) : t
  const frames = media.packets
    .filter((p) => !p.discard)
    .map((p) => {
      const stream = media.streams[p.stream]!
      const frame: Frame = {
        kind: tracks[p.stream]!.kind,
        dts: rescale(stream, p.dts),
        pts: rescale(stream, p.pts),
        keyframe: p.keyframe,
        data: p.data
      }
      return { track: p.stream, frame }
    })
  return { tracks, frames }
}
