/**
 * Append-only lists of numbers stored in fixed-size typed-array blocks: the sample tables of a long recording
 * grow by one block at a time, so growth never copies and never over-allocates more than one block.
 */

/** 2048 entries (8 KiB per u32 block): the block array stays short for an hour, and waste is under one block. */
const BLOCK_BITS = 11
const BLOCK_SIZE = 1 << BLOCK_BITS
const BLOCK_MASK = BLOCK_SIZE - 1
/** The first block starts this small and doubles up to BLOCK_SIZE, so 100 idle or short tracks cost little. */
const FIRST_BLOCK = 64

type NumberArray = Uint32Array | Int32Array | Float64Array

class BlockList<A extends NumberArray> {
  readonly #blocks: Array<A> = []
  readonly #make: (length: number) => A
  #length = 0

  constructor(make: (length: number) => A) {
    this.#make = make
  }

  get length(): number {
    return this.#length
  }

  push(value: number): void {
    const index = this.#length
    const block = index >>> BLOCK_BITS
    if (block === this.#blocks.length) {
      this.#blocks.push(this.#make(block === 0 ? FIRST_BLOCK : BLOCK_SIZE))
    } else if (index === this.#blocks[0].length) {
      const grown = this.#make(index * 2)
      grown.set(this.#blocks[0])
      this.#blocks[0] = grown
    }
    this.#blocks[block][index & BLOCK_MASK] = value
    this.#length = index + 1
  }

  get(index: number): number {
    return this.#blocks[index >>> BLOCK_BITS][index & BLOCK_MASK]
  }

  set(index: number, value: number): void {
    this.#blocks[index >>> BLOCK_BITS][index & BLOCK_MASK] = value
  }

  /** The last value, or `fallback` when empty. */
  last(fallback: number): number {
    return this.#length === 0 ? fallback : this.get(this.#length - 1)
  }

  /** Drops entries from `length` on (used to roll back a chunk whose write failed). */
  truncate(length: number): void {
    if (length >= this.#length) return
    this.#length = length
    this.#blocks.length = (length + BLOCK_MASK) >>> BLOCK_BITS
  }

  /** Bytes held by the blocks, for memory accounting in benchmarks. */
  get retainedBytes(): number {
    let bytes = 0
    for (const block of this.#blocks) bytes += block.byteLength
    return bytes
  }
}

export class U32List extends BlockList<Uint32Array> {
  constructor() {
    super((length) => new Uint32Array(length))
  }
}

export class I32List extends BlockList<Int32Array> {
  constructor() {
    super((length) => new Int32Array(length))
  }
}

export class F64List extends BlockList<Float64Array> {
  constructor() {
    super((length) => new Float64Array(length))
  }
}
