/**
 * VLC as a real player in tests: it demuxes and decodes a file, and its transcode stream output writes what it
 * decoded to a new file that ffmpeg/ffprobe can then judge. VLC refuses to run as root (as tests do in CI), so
 * it runs as nobody (uid/gid 65534) with a HOME of its own, in a work dir that user owns.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const NOBODY = 65534
const TIMEOUT_MS = 60_000

/** `vlc --version`'s number, as [major, minor, patch]. */
export const vlcVersion = (): [number, number, number] => {
  const ran = asVlcUser(["--version"], os.tmpdir())
  const match = /^VLC version (\d+)\.(\d+)\.(\d+)/m.exec(ran.stdout)
  if (match === null) throw new Error(`no version in vlc --version:\n${ran.stdout}${ran.stderr}`)
  return [Number(match[1]), Number(match[2]), Number(match[3])]
}

export interface VlcWorkDir {
  readonly dir: string
  /** Copies a file in, readable by VLC's user; returns the copy's path. */
  readonly add: (file: string, name?: string) => string
}

/** A temp dir VLC's user owns, with its HOME inside (VLC writes its config and caches there). */
export const vlcWorkDir = (): VlcWorkDir => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-vlc-"))
  fs.mkdirSync(path.join(dir, "home"))
  if (process.getuid?.() === 0) {
    fs.chownSync(dir, NOBODY, NOBODY)
    fs.chownSync(path.join(dir, "home"), NOBODY, NOBODY)
  }
  const add = (file: string, name = path.basename(file)) => {
    const copy = path.join(dir, name)
    fs.copyFileSync(file, copy)
    fs.chmodSync(copy, 0o644)
    return copy
  }
  return { dir, add }
}

interface Ran {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs vlc with `args`: as nobody when we are root, directly otherwise; killed after TIMEOUT_MS. */
const asVlcUser = (args: ReadonlyArray<string>, home: string): Ran => {
  const root = process.getuid?.() === 0
  const command = root ? "setpriv" : "vlc"
  const fullArgs = root
    ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "vlc", ...args]
    : [...args]
  const result = spawnSync(command, fullArgs, {
    encoding: "utf8",
    timeout: TIMEOUT_MS,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, LANG: "C" }
  })
  if (result.error !== undefined) throw result.error
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

export interface VlcTranscode {
  readonly status: number | null
  /** VLC's log (`--verbose=1`: errors and warnings, plus libavcodec's own messages). */
  readonly log: string
  readonly output: string
}

/**
 * Plays `input` (a file inside `work.dir`) through VLC's transcode stream output: VLC demuxes it, decodes video
 * and audio, and re-encodes what it decoded, frame for frame, to MPEG-4 Part 2 video and MPEG-1 Layer II audio
 * (libavcodec's encoders in Debian's avcodec plugin) in an MPEG-PS file, then quits at the end of the input.
 *
 * - No `fps` is given: VLC then keeps the source's frame rate and timestamps, one output frame per decoded
 *   frame. (With mp2v and `fps=30`, VLC showed the first frame twice and shifted every picture by one.)
 * - MPEG-PS, not VLC's TS muxer: at the end of the input VLC's TS muxer dropped its last ~200 ms of buffered
 *   data, which would blur a frame count. The encoder still loses its last delayed frame or so.
 * - `--avcodec-hw=none` keeps VLC from trying hardware decoders that do not exist here.
 */
export const vlcTranscode = (work: VlcWorkDir, input: string, outputName = "vlc-out.mpg"): VlcTranscode => {
  const output = path.join(work.dir, outputName)
  const sout = `#transcode{vcodec=mp4v,vb=4000,acodec=mpga,ab=192}:std{access=file,mux=ps,dst=${output}}`
  const ran = asVlcUser([
    "-I", "dummy", "--verbose=1", "--no-color", "--avcodec-hw=none",
    "--play-and-exit", "--no-repeat", "--no-loop",
    input, "--sout", sout, "vlc://quit"
  ], path.join(work.dir, "home"))
  return { status: ran.status, log: ran.stdout + ran.stderr, output }
}

/**
 * The lines of a VLC log that say demuxing or decoding went wrong.
 *
 * VLC's lines read `[object] module type level: message`. Demuxers, packetizers and decoders (the `ts demux`,
 * `h264 packetizer`, `avcodec decoder`, `faad decoder`, and VLC's core `main decoder`) are the reading side of
 * playback; any warning or error of theirs counts (a TS continuity counter jump, lost sync, a PSI decoder error,
 * an undecodable AAC frame). libavcodec's own messages about the H.264 and AAC decoders (`[h264 @ 0x...] ...`)
 * count too. Everything else is harmless noise for a headless run and is not judged: no D-Bus, PulseAudio or
 * hotkeys interface, the transcoder probing chroma converters (`chain filter error: Too high level of
 * recursion`), encoder option and flush messages (`avcodec encoder ...`), the muxer running out of input at the
 * end, and `faad generic warning: decoded zero sample` (the AAC decoder's priming frame).
 */
export const playbackProblems = (log: string): Array<string> =>
  log.split("\n").filter((line) =>
    /^\[[0-9a-f]+\] [\w-]+ (?:demux|packetizer|decoder) (?:warning|error): /.test(line) ||
    /^\[(?:h264|aac) @ 0x[0-9a-f]+\] /.test(line)
  )
