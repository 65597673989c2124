/**
 * A cheap structural check of each frame before it is muxed, so a corrupted frame counts against the error
 * budget instead of landing in the file. H.264 access units must be well-formed AVCC (ISO/IEC 14496-15 5.3.2):
 * 4-byte NAL lengths that tile the frame exactly, each NAL with forbidden_zero_bit 0 and a non-zero type.
 */
import type { Frame } from "../media/frame.ts"

/** Why the frame is malformed, or undefined when it is fine. */
export const frameProblem = (codec: string, frame: Frame): string | undefined => {
  const data = frame.data
  if (data.length === 0) return "empty frame"
  if (codec !== "H264") return undefined
  let offset = 0
  while (offset < data.length) {
    if (offset + 4 > data.length) return `truncated NAL length at byte ${offset}`
    const length = ((data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!) >>> 0
    offset += 4
    if (length === 0 || offset + length > data.length) {
      return `NAL length ${length} at byte ${offset - 4} does not fit the ${data.length}-byte frame`
    }
    const header = data[offset]!
    if ((header & 0x80) !== 0) return `NAL at byte ${offset} has forbidden_zero_bit set`
    if ((header & 0x1f) === 0) return `NAL at byte ${offset} has type 0`
    offset += length
  }
  return undefined
}
