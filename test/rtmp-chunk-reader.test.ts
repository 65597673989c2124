import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { ChunkReader } from "../src/protocols/rtmp/chunk-reader.ts"
import { ChunkWriter } from "../src/protocols/rtmp/chunk-writer.ts"
import { abort, type RtmpMessage, setChunkSize } from "../src/protocols/rtmp/messages.ts"
import { RtmpProtocolError } from "../src/protocols/rtmp/protocol-error.ts"

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex")
const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))

const feedAll = (reader: ChunkReader, stream: Buffer, cuts: ReadonlyArray<number> = []): Array<RtmpMessage> => {
  const out: Array<RtmpMessage> = []
  let from = 0
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(...reader.feed(stream.subarray(from, cut)))
    from = cut
  }
  out.push(...reader.feed(stream.subarray(from)))
  return out
}

const plain = (m: RtmpMessage) => ({ ...m, payload: m.payload.toString("hex") })

describe("ChunkReader golden vectors (RTMP 1.0, 5.3)", () => {
  it("reads a fmt 0 chunk with a 1-byte basic header", () => {
    // csid 3, ts 1000, length 4, type 20, stream 0
    const messages = new ChunkReader().feed(hex("03 0003e8 000004 14 00000000 01020304"))
    assert.deepStrictEqual(messages.map(plain), [
      { chunkStreamId: 3, typeId: 20, streamId: 0, timestamp: 1000, payload: "01020304" }
    ])
  })

  it.each([
    ["2-byte basic header, csid 64", "00 00", 64],
    ["2-byte basic header, csid 319", "00 ff", 319],
    ["3-byte basic header, csid 320", "01 0001", 320],
    ["3-byte basic header, csid 65599", "01 ffff", 65599]
  ])("reads a %s", (_name, basic, csid) => {
    const [message] = new ChunkReader().feed(hex(`${basic} 000000 000001 08 01000000 aa`))
    assert.strictEqual(message.chunkStreamId, csid)
    assert.strictEqual(message.streamId, 1)
  })

  it("applies fmt 1 and fmt 2 deltas and repeats the delta on fmt 3 new messages (5.3.2.1)", () => {
    const messages = new ChunkReader().feed(hex(
      "04 0003e8 000002 08 01000000 a1a1" + // fmt 0: ts 1000
        "44 000014 000003 08 b2b2b2" + // fmt 1: +20, new length
        "84 000014 c3c3c3" + // fmt 2: +20
        "c4 d4d4d4" // fmt 3: +20 again
    ))
    assert.deepStrictEqual(messages.map((m) => [m.timestamp, m.payload.toString("hex")]), [
      [1000, "a1a1"],
      [1020, "b2b2b2"],
      [1040, "c3c3c3"],
      [1060, "d4d4d4"]
    ])
  })

  it("treats a fmt 3 new message after fmt 0 as a repeat of the fmt 0 field, like ffmpeg and SRS", () => {
    const messages = new ChunkReader().feed(hex("04 000021 000001 09 01000000 01 c4 02"))
    assert.deepStrictEqual(messages.map((m) => m.timestamp), [33, 66])
  })

  it("reads extended timestamps, also repeated on fmt 3 continuation chunks", () => {
    // ts 0x01000000 (> 0xffffff), 200 bytes at chunk size 128: the continuation repeats the extended timestamp.
    const payload = bytes(200)
    const stream = Buffer.concat([
      hex("06 ffffff 0000c8 09 01000000 01000000"),
      payload.subarray(0, 128),
      hex("c6 01000000"),
      payload.subarray(128)
    ])
    const [message] = new ChunkReader().feed(stream)
    assert.strictEqual(message.timestamp, 0x01000000)
    assert.deepStrictEqual(message.payload, payload)
  })

  it("reads extended timestamps from encoders that leave them off continuation chunks", () => {
    const payload = bytes(200, 7)
    const stream = Buffer.concat([
      hex("06 ffffff 0000c8 09 01000000 01000000"),
      payload.subarray(0, 128),
      hex("c6"),
      payload.subarray(128)
    ])
    const [message] = new ChunkReader().feed(stream)
    assert.strictEqual(message.timestamp, 0x01000000)
    assert.deepStrictEqual(message.payload, payload)
  })

  it("unwraps timestamps past 2^32 (they wrap, 5.3.1.3)", () => {
    const messages = new ChunkReader().feed(hex(
      "04 ffffff 000001 08 01000000 fffffff0 aa" + // fmt 0, extended ts 0xfffffff0
        "84 000020 bb" + // fmt 2, +32: wraps to 0x10
        "84 000020 cc"
    ))
    assert.deepStrictEqual(messages.map((m) => m.timestamp), [0xfffffff0, 0x1_0000_0010, 0x1_0000_0030])
  })

  it("follows Set Chunk Size from the peer (5.4.1)", () => {
    const payload = bytes(300)
    const writer = new ChunkWriter()
    const stream = Buffer.concat([writer.write(setChunkSize(4096)), (() => {
      writer.chunkSize = 4096
      return writer.write({ chunkStreamId: 6, typeId: 9, streamId: 1, timestamp: 0, payload })
    })()])
    const reader = new ChunkReader()
    const messages = reader.feed(stream)
    assert.strictEqual(reader.peerChunkSize, 4096)
    assert.deepStrictEqual(messages.map((m) => m.payload), [payload])
  })

  it("drops a half-received message on Abort (5.4.2)", () => {
    const stream = Buffer.concat([
      hex("06 000000 0000c8 09 01000000"),
      bytes(128), // first chunk of 200: the message stays incomplete
      new ChunkWriter().write(abort(6)),
      hex("06 000064 000002 09 01000000 abcd")
    ])
    const reader = new ChunkReader()
    const messages = reader.feed(stream)
    assert.deepStrictEqual(messages.map((m) => [m.timestamp, m.payload.toString("hex")]), [[100, "abcd"]])
    assert.isTrue(reader.idle)
  })

  it("refuses an absurd message length", () => {
    assert.throws(
      () => new ChunkReader().feed(hex("03 000000 ffffff 14 00000000")),
      RtmpProtocolError,
      "absurd message length 16777215"
    )
  })

  it("refuses a fmt 1 header on a chunk stream that never had a fmt 0", () => {
    assert.throws(() => new ChunkReader().feed(hex("45 000000 000001 08 aa")), RtmpProtocolError, /without a preceding/)
  })

  it("refuses a chunk size of 0", () => {
    assert.throws(() => new ChunkReader().feed(hex("02 000000 000004 01 00000000 00000000")), RtmpProtocolError)
  })

  it("is not idle in the middle of a header or of a message", () => {
    const reader = new ChunkReader()
    reader.feed(hex("06 000000 0000c8"))
    assert.isFalse(reader.idle)
    const full = new ChunkReader()
    full.feed(Buffer.concat([hex("06 000000 0000c8 09 01000000"), bytes(128)]))
    assert.isFalse(full.idle)
  })
})

// Random messages on random chunk streams, written with a random chunk size, reassemble to the same messages
// whatever the read boundaries are.
const messageList = fc.array(
  fc.record({
    chunkStreamId: fc.oneof(fc.integer({ min: 3, max: 8 }), fc.integer({ min: 3, max: 65599 })),
    typeId: fc.constantFrom(8, 9, 18, 20),
    streamId: fc.constantFrom(0, 1, 1, 1, 2),
    // Deltas include values past the 24-bit field (extended timestamps); each stays below 2^31 as real ones do.
    delta: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 0x7fffffff })),
    payload: fc.uint8Array({ maxLength: 700 })
  }),
  { minLength: 1, maxLength: 25 }
)

const withTimestamps = (
  list: ReadonlyArray<{ chunkStreamId: number; typeId: number; streamId: number; delta: number; payload: Uint8Array }>
): Array<RtmpMessage> => {
  const clock = new Map<number, number>()
  return list.map(({ chunkStreamId, typeId, streamId, delta, payload }) => {
    const timestamp = (clock.get(chunkStreamId) ?? 0) + delta
    clock.set(chunkStreamId, timestamp)
    return { chunkStreamId, typeId, streamId, timestamp, payload: Buffer.from(payload) }
  })
}

describe("ChunkReader ∘ ChunkWriter", () => {
  it("reassembles the written messages for any chunk size and any split of the bytes", () => {
    fc.assert(
      fc.property(
        messageList,
        fc.integer({ min: 1, max: 1500 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 40 }),
        (list, chunkSize, compressHeaders, rawCuts) => {
          const messages = withTimestamps(list)
          const writer = new ChunkWriter({ compressHeaders })
          const parts = [writer.write(setChunkSize(chunkSize))]
          writer.chunkSize = chunkSize
          for (const m of messages) parts.push(writer.write(m))
          const stream = Buffer.concat(parts)
          const cuts = rawCuts.map((c) => c % (stream.length + 1))
          const reader = new ChunkReader()
          const got = feedAll(reader, stream, cuts)
          assert.deepStrictEqual(got.map(plain), messages.map(plain))
          assert.isTrue(reader.idle)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("reassembles a message fed one byte at a time", () => {
    const messages = withTimestamps([
      { chunkStreamId: 6, typeId: 9, streamId: 1, delta: 0x1234567, payload: bytes(1000) },
      { chunkStreamId: 4, typeId: 8, streamId: 1, delta: 5, payload: bytes(10) },
      { chunkStreamId: 6, typeId: 9, streamId: 1, delta: 33, payload: bytes(1000, 3) }
    ])
    const writer = new ChunkWriter()
    const stream = Buffer.concat(messages.map((m) => writer.write(m)))
    const reader = new ChunkReader()
    const cuts = Array.from({ length: stream.length }, (_, i) => i)
    assert.deepStrictEqual(feedAll(reader, stream, cuts).map(plain), messages.map(plain))
  })
})
