/**
 * The header side of a recording in progress: which data layout its header mode implies, when the reserved moov
 * is full enough to rotate, and the header updates on the fly. The recorder asks it once per frame with plain
 * arithmetic; the moov is only built when an update is due.
 */
import type { Track } from "../../media/frame.ts"
import { type DataLayout, headerPathOf, MIN_RESERVED_BYTES, PLAIN } from "./data-layout.ts"
import { HeaderSchedule, type RecordingFiles, reservedUpdate, splitUpdate } from "./header-updates.ts"
import { fixedMoovBytes, moovBytesBound, SAMPLE_BYTES_BOUND, type TableCounters } from "./moov-size.ts"
import type { Mp4WriteError } from "./mp4-write-error.ts"
import { type RecordedMedia, reservedMoov, sampleCountOf, splitHeader } from "./recorded-media.ts"
import { fitsReservation } from "./reserved-region.ts"

/**
 * How the moov is written (mp4_container_moov_first_reserve_space, mp4_container_write_header_on_fly):
 * - AtFinalize: once, at finalize, before or after the mdat as Mp4FinalizeOptions.moovFirst says;
 * - Reserved: into a region of `reservedBytes` after the ftyp, the final file being the data file itself; rewritten
 *   every `updateSeconds` of media when given; `headerFull()` asks for rotation before the moov outgrows it;
 * - Split: every `updateSeconds` as ftyp + moov into `NAME.header` beside the data file `NAME.tmp` (an mdat), so
 *   that `cat NAME.header NAME.tmp` plays; finalize concatenates them.
 */
export type Mp4HeaderMode =
  | { readonly _tag: "AtFinalize" }
  | { readonly _tag: "Reserved"; readonly reservedBytes: number; readonly updateSeconds?: number | undefined }
  | { readonly _tag: "Split"; readonly updateSeconds: number }

/** Samples' worth of moov bytes kept free in a reservation beyond twice the last GOP's growth. */
const RESERVE_SAFETY_SAMPLES = 64

/** Why a header mode cannot be used, or undefined. */
export const headerModeProblem = (mode: Mp4HeaderMode): string | undefined => {
  if (mode._tag === "Reserved" && !(mode.reservedBytes >= MIN_RESERVED_BYTES)) {
    return `a moov reservation of ${mode.reservedBytes} bytes cannot hold even a free box`
  }
  if (mode._tag !== "AtFinalize" && mode.updateSeconds !== undefined && !(mode.updateSeconds > 0)) {
    return `a header update interval of ${mode.updateSeconds} s`
  }
  return undefined
}

export class RecordingHeader {
  readonly layout: DataLayout
  readonly #schedule: HeaderSchedule | undefined
  /** Reserved layout: moov bytes that do not depend on samples, and the bound's growth over the last GOP. */
  #fixedMoov = 0
  #boundAtKeyframe = NaN
  #gopGrowth = 0

  constructor(mode: Mp4HeaderMode) {
    this.layout = mode._tag === "AtFinalize" ? PLAIN : mode._tag === "Reserved" ? mode : { _tag: "Split" }
    const every = mode._tag === "AtFinalize" ? undefined : mode.updateSeconds
    this.#schedule = every === undefined ? undefined : new HeaderSchedule(every)
  }

  get schedule(): HeaderSchedule | undefined {
    return this.#schedule
  }

  /** The file holding the header kept while recording: the data file, or the split recording's header file. */
  headerPathFor(tmpPath: string): string {
    return this.layout._tag === "Split" ? headerPathOf(tmpPath) : tmpPath
  }

  tracksChanged(tracks: ReadonlyArray<Track>): void {
    if (this.layout._tag === "Reserved") this.#fixedMoov = fixedMoovBytes(tracks)
  }

  /** A video keyframe was added: remember how much the moov bound grew over the GOP it closes. */
  keyframe(tables: ReadonlyArray<TableCounters>): void {
    if (this.layout._tag !== "Reserved") return
    const bound = this.moovBytesBound(tables)
    if (!Number.isNaN(this.#boundAtKeyframe)) this.#gopGrowth = bound - this.#boundAtKeyframe
    this.#boundAtKeyframe = bound
  }

  moovBytesBound(tables: ReadonlyArray<TableCounters>): number {
    return this.layout._tag === "Reserved" ? moovBytesBound(this.#fixedMoov, tables) : 0
  }

  /** See Mp4Recorder.headerFull. */
  full(tables: ReadonlyArray<TableCounters>): boolean {
    if (this.layout._tag !== "Reserved") return false
    const margin = 2 * this.#gopGrowth + RESERVE_SAFETY_SAMPLES * SAMPLE_BYTES_BOUND
    return this.moovBytesBound(tables) + margin > this.layout.reservedBytes - 8
  }

  /** Whether an update is due at media time `seconds`: the recorder then flushes and calls `update`. */
  due(seconds: number): boolean {
    return this.#schedule !== undefined && this.#schedule.due(seconds)
  }

  /** The failure of a finished update, once (an I/O error, which stops the recording like a failed chunk). */
  takeFailure(): Mp4WriteError | undefined {
    return this.#schedule?.takeFailure()
  }

  /** Builds the header for `media`, every sample of which is written, and starts writing it. */
  update(media: RecordedMedia, files: RecordingFiles, seconds: number): void {
    const schedule = this.#schedule
    if (schedule === undefined) return
    const samples = sampleCountOf(media.tracks)
    const { layout } = this
    if (samples === 0) return schedule.skip(seconds)
    if (layout._tag === "Reserved") {
      const moov = reservedMoov(media)
      // A moov that no longer fits waits for the rotation headerFull asked for; the journal covers the rest.
      if (!fitsReservation(moov.length, layout.reservedBytes)) return schedule.skip(seconds)
      schedule.start(reservedUpdate(files, moov, layout.reservedBytes), samples, seconds)
    } else if (layout._tag === "Split") {
      schedule.start(splitUpdate(files, headerPathOf(media.tmpPath), splitHeader(media)), samples, seconds)
    }
  }
}

