/**
 * How a multi-recording says which stream a track belongs to: every track is named
 * `capstan:{mediaSessionId}:{encodeURIComponent(streamName)}` (MP4: the hdlr handler name, ffprobe's `handler_name`
 * tag; MKV: the track's Name element, ffprobe's `title` tag). The multi-recorder writes it, the mixer reads it.
 */

export const TRACK_NAME_PREFIX = "capstan:"

export interface TrackOwner {
  readonly mediaSessionId: string
  /** The stream name as published (the name's URI encoding undone). */
  readonly streamName: string
}

/** The name the multi-recorder gives every track of one stream. A mediaSessionId must not contain `:`. */
export const formatTrackName = (owner: TrackOwner): string =>
  `${TRACK_NAME_PREFIX}${owner.mediaSessionId}:${encodeURIComponent(owner.streamName)}`

/** The owner named by a track name, or undefined for a name not written by the multi-recorder. */
export const parseTrackName = (name: string | undefined): TrackOwner | undefined => {
  if (name === undefined || !name.startsWith(TRACK_NAME_PREFIX)) return undefined
  const rest = name.slice(TRACK_NAME_PREFIX.length)
  const colon = rest.indexOf(":")
  if (colon <= 0) return undefined
  const encoded = rest.slice(colon + 1)
  return { mediaSessionId: rest.slice(0, colon), streamName: decodeOrKeep(encoded) }
}

/** decodeURIComponent, or the text itself when it holds a malformed escape. */
export const decodeOrKeep = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
