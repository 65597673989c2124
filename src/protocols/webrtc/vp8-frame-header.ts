/**
 * The uncompressed header at the start of every VP8 frame (RFC 6386 9.1): whether it is a key frame, and a key
 * frame's picture size.
 *
 *   frame tag (3 bytes, little-endian): bit 0 = !key_frame, bits 1-3 version, bit 4 show_frame,
 *   bits 5-23 first_part_size; key frames then carry the start code 9d 01 2a and two 16-bit little-endian
 *   fields: 14 bits of width (or height) and 2 bits of scaling.
 */

export type Vp8FrameHeader =
  | { readonly keyframe: false }
  | { readonly keyframe: true; readonly width: number; readonly height: number }

/** The header of a VP8 frame, or undefined when the bytes cannot be one. */
export const parseVp8FrameHeader = (frame: Uint8Array): Vp8FrameHeader | undefined => {
  if (frame.length < 3) return undefined
  if ((frame[0]! & 0x01) !== 0) return { keyframe: false }
  if (frame.length < 10 || frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return undefined
  const width = (frame[6]! | (frame[7]! << 8)) & 0x3fff
  const height = (frame[8]! | (frame[9]! << 8)) & 0x3fff
  if (width === 0 || height === 0) return undefined
  return { keyframe: true, width, height }
}
