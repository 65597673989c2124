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
    if (index > 0) this.deltas.push(decodeTime - this.#decodeTime)
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
    if (this.#offsets === undefined) return this.mediaDuration
    let decodeTime = 0
    let end = 0
    for (let i = 0; i < this.sampleCount; i++) {
      const duration = this.duration(i)
      end = Math.max(end, decodeTime + this.#offsets.get(i) + duration)
      decodeTime += duration
    }
    return end
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
  }

  /** Heap held by the blocks (benchmarks). */
  get retainedBytes(): number {
    return this.sizes.retainedBytes + this.deltas.retainedBytes + (this.#offsets?.retainedBytes ?? 0) +
      this.syncSamples.retainedBytes + this.chunkOffsets.retainedBytes + this.chunkSampleCounts.retainedBytes
  }
}
