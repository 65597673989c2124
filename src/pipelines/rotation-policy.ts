/**
 * When to cut a recording into the next fragment (record_rotation). A pure decision over the running
 * fragment's statistics, asked only at frames where a cut is allowed: video keyframes, or any frame of
 * an audio-only stream.
 */

import type { Rotation } from "../config/rotation.ts"

export type { Rotation }

export interface FragmentProgress {
  /** Decode time of the fragment's first frame, in seconds. */
  readonly startSeconds: number
  /** Decode time of the frame that could start the next fragment, in seconds. */
  readonly nowSeconds: number
  /** Media bytes written into the fragment so far. */
  readonly bytes: number
  /** Bytes written since the previous cut point (the last GOP), to keep size fragments under the limit. */
  readonly lastGopBytes: number
}

export const shouldRotate = (rotation: Rotation, progress: FragmentProgress): boolean => {
  switch (rotation._tag) {
    case "Disabled":
      return false
    case "Duration":
      return progress.nowSeconds - progress.startSeconds >= rotation.seconds - 1e-6
    case "Size":
      // Cut before the next GOP would cross the limit, so a fragment stays within one GOP of it.
      return progress.bytes > 0 && progress.bytes + progress.lastGopBytes > rotation.bytes
  }
}
