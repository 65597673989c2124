/**
 * The header elements our MKV writer rewrites in place, shared by the writer (mkv-writer.ts) and the completion of
 * a file a crash left unfinished (mkv-leftover.ts): the SeekHead, the Info (with the Duration once known) and a
 * CuePoint per cluster that starts with a key frame. Positions are relative to the Segment's data.
 */
import { binary, float64, ID, idBytes, master, string, uint } from "./ebml.ts"

/** MuxingApp and WritingApp: also how a leftover is recognized as ours. */
export const MKV_APP = "Capstan"

/** Bytes reserved for the SeekHead and for the Info, right after the Segment header. */
export const SEEK_HEAD_REGION = 96
export const INFO_REGION = 96

export const seekHead = (positions: {
  readonly info: number
  readonly tracks: number
  readonly cues?: number | undefined
  readonly tags?: number | undefined
}): Uint8Array => {
  const seek = (id: number, position: number) =>
    master(ID.Seek, [binary(ID.SeekID, idBytes(id)), uint(ID.SeekPosition, position, 8)])
  const entries = [seek(ID.Info, positions.info), seek(ID.Tracks, positions.tracks)]
  if (positions.cues !== undefined) entries.push(seek(ID.Cues, positions.cues))
  if (positions.tags !== undefined) entries.push(seek(ID.Tags, positions.tags))
  return master(ID.SeekHead, entries)
}

/** `HH:MM:SS.nnnnnnnnn`, the form of Matroska's DURATION tag. */
const tagDuration = (seconds: number): string => {
  const nanos = Math.max(0, Math.round(seconds * 1e9))
  const whole = Math.floor(nanos / 1e9)
  const pad = (n: number, width: number) => String(n).padStart(width, "0")
  return `${pad(Math.floor(whole / 3600), 2)}:${pad(Math.floor(whole / 60) % 60, 2)}:${pad(whole % 60, 2)}.${
    pad(nanos % 1e9, 9)
  }`
}

/**
 * A DURATION tag per track (what ffmpeg's muxer writes): where each track's last frame ends, so readers know a
 * track's end without a block duration on its last frame (video frames carry none).
 */
export const durationTags = (
  tracks: ReadonlyArray<{ readonly uid: number; readonly endSeconds: number }>
): Uint8Array =>
  master(ID.Tags, tracks.map(({ uid, endSeconds }) =>
    master(ID.Tag, [
      master(ID.Targets, [uint(ID.TagTrackUID, uid)]),
      master(ID.SimpleTag, [string(ID.TagName, "DURATION"), string(ID.TagString, tagDuration(endSeconds))])
    ])))

/** Matroska dates count nanoseconds from 2001-01-01T00:00:00 UTC. */
export const dateUtcNanoseconds = (date: Date): number => Math.max(0, (date.getTime() - Date.UTC(2001, 0, 1)) * 1e6)

export const info = (dateUtcNs: number, durationSeconds: number | undefined): Uint8Array =>
  master(ID.Info, [
    uint(ID.TimestampScale, 1_000_000),
    ...(durationSeconds === undefined ? [] : [float64(ID.Duration, durationSeconds * 1000)]),
    uint(ID.DateUTC, dateUtcNs, 8),
    string(ID.MuxingApp, MKV_APP),
    string(ID.WritingApp, MKV_APP)
  ])

export const cuePoint = (timeMs: number, trackNumber: number, clusterPosition: number): Uint8Array =>
  master(ID.CuePoint, [
    uint(ID.CueTime, timeMs),
    master(ID.CueTrackPositions, [uint(ID.CueTrack, trackNumber), uint(ID.CueClusterPosition, clusterPosition)])
  ])
