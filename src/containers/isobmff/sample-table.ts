/**
 * One track's sample table kept in compact typed-array blocks while recording: about 8 bytes per audio sample
 * and 12 per video sample (size, decode delta, composition offset), plus sync-sample indices and one entry per chunk.
 */
import { F64List, I32List, U32List } from "./block-list.ts"

export class SampleTable {
  /** Sample sizes in bytes (stsz). */
  readonly sizes = new U32List()
  /** `deltas[i]` = decode time of sample i+1 minus that of sample i, media ticks (stts); one shorter than `sizes`. */
  readonly deltas = new U32List()
  /** Composition offsets (ctts), allocated on the first non-zero offset; implicit zeros before that. */
  #offsets: I32List | undefined
  /** 0-based indices of sync samples (stss), only kept when `allSync` is false. */
  readonly syncSamples = new U32List()
  /** Chunk file offsets in the data file and their sample counts (stco/co64, stsc). */
  readonly chunkOffsets = new F64List()
  readonly chunkSampleCounts = new U32List()
  /** Every sample is a sync sample (audio): no stss is kept or written. */
  readonly allSync: boolean
  /** Duration given to the last sample of a one-sample track, media ticks. */
  readonly defaultDuration: number
  #bytes = 0
  #decodeTime = 0
  /** Data-file offset just past the last chunk, to extend it when the next one follows directly. */
  #chunkEnd = NaN
  /** Runs of equal decode deltas and of equal composition offsets (the stts and ctts entry counts), kept as
   * samples come so that the size of a moov is bounded without building it. */
  #deltaRuns = 0
  #offsetRuns = 0
  #lastOffset = NaN
  /** Whether some composition offset is negative (ctts version 1) or not zero (a ctts at all). */
  #negativeOffsets = false
  #nonZeroOffsets = false
  /** Latest pts + duration over every sample but the last, whose duration is only known with the next one. */
  #endBeforeLast = 0

  constructor(allSync: boolean, defaultDuration: number) {
    this.allSync = allSync
    this.defaultDuration = defaultDuration
  }

  get sampleCount(): number {
    return this.sizes.length
  }

  get chunkCount(): number {
    return this.chunkOffsets.length
  }

  /** Media bytes of all samples. */
  get bytes(): number {
    return this.#bytes
  }

  /** Decode time of the last sample, media ticks from the first. */
  get lastDecodeTime(): number {
    return this.#decodeTime
  }

  get hasCompositionOffsets(): boolean {
    return this.#offsets !== undefined
  }

  /**
   * Appends a sample. `decodeTime` is in media ticks from the track's first sample and must not decrease;
   * `compositionOffset` is pts minus dts in media ticks.
   */
  add(size: number, decodeTime: number, compositionOffset: number, sync: boolean): void {
    const index = this.sizes.length
    if (index > 0) {
      const delta = decodeTime - this.#decodeTime
      if (index === 1 || delta !== this.deltas.last(-1)) this.#deltaRuns++
      this.deltas.push(delta)
      this.#endBeforeLast = Math.max(this.#endBeforeLast, this.#decodeTime + this.#lastOffset + delta)
    }
    if (compositionOffset !== this.#lastOffset) this.#offsetRuns++
    this.#lastOffset = compositionOffset
    if (compositionOffset !== 0) {
      this.#nonZeroOffsets = true
      if (compositionOffset < 0) this.#negativeOffsets = true
    }
    this.#decodeTime = decodeTime
    this.sizes.push(size)
    this.#bytes += size
    if (compositionOffset !== 0 && this.#offsets === undefined) {
      this.#offsets = new I32List()
      for (let i = 0; i < index; i++) this.#offsets.push(0)
    }
    this.#offsets?.push(compositionOffset)
    if (sync && !this.allSync) this.syncSamples.push(index)
  }

  /**
   * Puts the last `sampleCount` samples, written at `offset`, in a chunk. A chunk that directly follows this track's
   * previous one extends it: chunks only change where the track does (8.7.4: a chunk is a contiguous run of samples).
   */
  addChunk(offset: number, sampleCount: number): void {
    let bytes = 0
    for (let i = this.sizes.length - sampleCount; i < this.sizes.length; i++) bytes += this.sizes.get(i)
    const last = this.chunkSampleCounts.length - 1
    if (offset === this.#chunkEnd) this.chunkSampleCounts.set(last, this.chunkSampleCounts.get(last) + sampleCount)
    else {
      this.chunkOffsets.push(offset)
      this.chunkSampleCounts.push(sampleCount)
    }
    this.#chunkEnd = offset + bytes
  }

  size(index: number): number {
    return this.sizes.get(index)
  }

  /** Duration of a sample; the last one repeats the previous delta (as ffmpeg does). */
  duration(index: number): number {
    if (index < this.deltas.length) return this.deltas.get(index)
    return this.deltas.length > 0 ? this.deltas.get(this.deltas.length - 1) : this.defaultDuration
  }

  compositionOffset(index: number): number {
    return this.#offsets === undefined ? 0 : this.#offsets.get(index)
  }

  /** Sum of all sample durations, media ticks (the mdhd duration). */
  get mediaDuration(): number {
    return this.sampleCount === 0 ? 0 : this.#decodeTime + this.duration(this.sampleCount - 1)
  }

  /** Latest pts + duration over all samples, media ticks; differs from mediaDuration with B-frames. */
  presentationEnd(): number {
    const last = this.sampleCount - 1
    if (last < 0) return 0
    return Math.max(this.#endBeforeLast, this.#decodeTime + this.#lastOffset + this.duration(last))
  }

  /** Some composition offset is not zero: a ctts box is written. */
  get nonZeroOffsets(): boolean {
    return this.#nonZeroOffsets
  }

  /** Some composition offset is negative: the ctts box needs version 1. */
  get negativeOffsets(): boolean {
    return this.#negativeOffsets
  }

  /** Entries of the stts box: runs of equal sample durations (the last sample repeats the previous delta). */
  get sttsEntries(): number {
    return this.sampleCount === 0 ? 0 : Math.max(1, this.#deltaRuns)
  }

  /** Entries of the ctts box, when one is written: runs of equal composition offsets. */
  get cttsEntries(): number {
    return this.#offsetRuns
  }

  /** Forgets samples from `sampleCount` on and chunks from `chunkCount` on (rollback of a failed chunk write). */
  truncate(sampleCount: number, chunkCount: number): void {
    for (let i = sampleCount; i < this.sizes.length; i++) this.#bytes -= this.sizes.get(i)
    for (let i = this.sizes.length - 1; i >= sampleCount && i > 0; i--) this.#decodeTime -= this.deltas.get(i - 1)
    if (sampleCount === 0) this.#decodeTime = 0
    this.sizes.truncate(sampleCount)
    this.deltas.truncate(Math.max(0, sampleCount - 1))
    this.#offsets?.truncate(sampleCount)
    let sync = this.syncSamples.length
    while (sync > 0 && this.syncSamples.get(sync - 1) >= sampleCount) sync--
    this.syncSamples.truncate(sync)
    this.chunkOffsets.truncate(chunkCount)
    this.chunkSampleCounts.truncate(chunkCount)
    this.#chunkEnd = NaN
    this.#countRuns()
  }

  /** Recounts what `add` keeps incrementally, after a truncation. */
  #countRuns(): void {
    this.#deltaRuns = 0
    for (let i = 0; i < this.deltas.length; i++) {
      if (i === 0 || this.deltas.get(i) !== this.deltas.get(i - 1)) this.#deltaRuns++
    }
    this.#offsetRuns = 0
    this.#lastOffset = NaN
    this.#negativeOffsets = false
    this.#nonZeroOffsets = false
    this.#endBeforeLast = 0
    let decodeTime = 0
    for (let i = 0; i < this.sampleCount; i++) {
      const offset = this.compositionOffset(i)
      if (offset !== this.#lastOffset) this.#offsetRuns++
      this.#lastOffset = offset
      if (offset !== 0) this.#nonZeroOffsets = true
      if (offset < 0) this.#negativeOffsets = true
      if (i < this.sampleCount - 1) {
        this.#endBeforeLast = Math.max(this.#endBeforeLast, decodeTime + offset + this.deltas.get(i))
        decodeTime += this.deltas.get(i)
      }
    }
  }

  /** Heap held by the blocks (benchmarks). */
  get retainedBytes(): number {
    return this.sizes.retainedBytes + this.deltas.retainedBytes + (this.#offsets?.retainedBytes ?? 0) +
      this.syncSamples.retainedBytes + this.chunkOffsets.retainedBytes + this.chunkSampleCounts.retainedBytes
  }
}
