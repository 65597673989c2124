/**
 * The few EBML encodings (RFC 8794) our own Matroska writer needs: element IDs as they are written, data sizes as
 * variable-length integers, unsigned integers, floats, strings and binaries, master elements around their
 * children, and Void elements of any length from 2 bytes, which let an element be rewritten in place in a region
 * reserved for it.
 */
import { concatBytes } from "../../../media/bytes.ts"

/** Matroska element IDs (RFC 9559 5.1), with their marker bits, as written. */
export const ID = {
  EBML: 0x1a45dfa3,
  EBMLVersion: 0x4286,
  EBMLReadVersion: 0x42f7,
  EBMLMaxIDLength: 0x42f2,
  EBMLMaxSizeLength: 0x42f3,
  DocType: 0x4282,
  DocTypeVersion: 0x4287,
  DocTypeReadVersion: 0x4285,
  Segment: 0x18538067,
  SeekHead: 0x114d9b74,
  Seek: 0x4dbb,
  SeekID: 0x53ab,
  SeekPosition: 0x53ac,
  Info: 0x1549a966,
  TimestampScale: 0x2ad7b1,
  Duration: 0x4489,
  DateUTC: 0x4461,
  MuxingApp: 0x4d80,
  WritingApp: 0x5741,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackUID: 0x73c5,
  TrackType: 0x83,
  FlagLacing: 0x9c,
  Name: 0x536e,
  Language: 0x22b59c,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  CodecDelay: 0x56aa,
  SeekPreRoll: 0x56bb,
  Video: 0xe0,
  PixelWidth: 0xb0,
  PixelHeight: 0xba,
  Audio: 0xe1,
  SamplingFrequency: 0xb5,
  Channels: 0x9f,
  BitDepth: 0x6264,
  Cluster: 0x1f43b675,
  Timestamp: 0xe7,
  SimpleBlock: 0xa3,
  Cues: 0x1c53bb6b,
  CuePoint: 0xbb,
  CueTime: 0xb3,
  CueTrackPositions: 0xb7,
  CueTrack: 0xf7,
  CueClusterPosition: 0xf1,
  Tags: 0x1254c367,
  Tag: 0x7373,
  Targets: 0x63c0,
  TagTrackUID: 0x63c5,
  SimpleTag: 0x67c8,
  TagName: 0x45a3,
  TagString: 0x4487,
  Void: 0xec
} as const

/** An 8-byte size with every value bit set: "unknown" (RFC 8794 6.2), for a Segment still being written. */
export const UNKNOWN_SIZE = Uint8Array.of(0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)

export const idBytes = (id: number): Uint8Array => {
  const length = id >= 0x1000000 ? 4 : id >= 0x10000 ? 3 : id >= 0x100 ? 2 : 1
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (id / 2 ** (8 * (length - 1 - i))) & 0xff
  return out
}

/** A data size as the shortest varint, or in exactly `width` bytes (for sizes patched later). */
export const sizeBytes = (size: number, width?: number): Uint8Array => {
  let length = width ?? 1
  // A length-n varint holds up to 2^(7n) - 2 (all ones is reserved for "unknown").
  while (width === undefined && size > 2 ** (7 * length) - 2) length++
  if (length > 8 || size > 2 ** (7 * length) - 2) throw new RangeError(`EBML size ${size} does not fit ${length} bytes`)
  const out = new Uint8Array(length)
  let rest = size
  for (let i = length - 1; i >= 0; i--) {
    out[i] = rest % 256
    rest = Math.floor(rest / 256)
  }
  out[0]! |= 0x80 >> (length - 1)
  return out
}

export const concat = concatBytes

export const element = (id: number, data: Uint8Array): Uint8Array =>
  concat([idBytes(id), sizeBytes(data.byteLength), data])

export const master = (id: number, children: ReadonlyArray<Uint8Array>): Uint8Array => element(id, concat(children))

/** An unsigned integer in as few bytes as it needs, or exactly `width` bytes. */
export const uint = (id: number, value: number, width?: number): Uint8Array => {
  let length = width ?? 1
  while (width === undefined && value >= 2 ** (8 * length)) length++
  const data = new Uint8Array(length)
  let rest = value
  for (let i = length - 1; i >= 0; i--) {
    data[i] = rest % 256
    rest = Math.floor(rest / 256)
  }
  return element(id, data)
}

export const float64 = (id: number, value: number): Uint8Array => {
  const data = new Uint8Array(8)
  new DataView(data.buffer).setFloat64(0, value)
  return element(id, data)
}

export const string = (id: number, value: string): Uint8Array => element(id, new TextEncoder().encode(value))

export const binary = (id: number, value: Uint8Array): Uint8Array => element(id, value)

/** A Void element of exactly `length` bytes (>= 2): its ID, a size, zeros. */
export const voidElement = (length: number): Uint8Array => {
  if (length < 2) throw new RangeError(`a Void element needs at least 2 bytes, not ${length}`)
  const out = new Uint8Array(length)
  out[0] = ID.Void
  // A 1-byte size covers up to 126 bytes of payload; beyond, an 8-byte size.
  out.set(length - 2 <= 126 ? sizeBytes(length - 2, 1) : sizeBytes(length - 9, 8), 1)
  return out
}

/** `data` followed by a Void filling `region` bytes; undefined when it does not fit (1 spare byte cannot be filled). */
export const padded = (data: Uint8Array, region: number): Uint8Array | undefined => {
  const spare = region - data.byteLength
  if (spare === 0) return data
  if (spare < 2) return undefined
  return concat([data, voidElement(spare)])
}
