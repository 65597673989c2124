import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect } from "effect"
import fc from "fast-check"
import { Amf0EcmaArray, type Amf0Value, amf0Property, decodeAmf0, encodeAmf0 } from "../src/protocols/rtmp/amf0.ts"
import { ChunkReader } from "../src/protocols/rtmp/chunk-reader.ts"
import { ChunkWriter } from "../src/protocols/rtmp/chunk-writer.ts"
import { RtmpConnection, splitQuery } from "../src/protocols/rtmp/connection.ts"
import { HANDSHAKE_SIZE } from "../src/protocols/rtmp/handshake.ts"
import { MessageType, type RtmpMessage, windowAckSize } from "../src/protocols/rtmp/messages.ts"
import { RtmpProtocolError } from "../src/protocols/rtmp/protocol-error.ts"
import { RtmpServer } from "../src/protocols/rtmp/server.ts"
import { type CollectedPublication, makeCollectingPublisher } from "./fixtures/rtmp/collecting-publisher.ts"
import { connectScriptedClient, type ScriptedClient } from "./fixtures/rtmp/scripted-client.ts"
import { makeCapturedLogs, testServerLayer } from "./fixtures/rtmp/rtmp-test-server.ts"

// Chunk stream ids as OBS (librtmp) uses them.
const CSID_COMMAND = 3
const CSID_PUBLISH = 4
const CSID_AUDIO = 4
const CSID_VIDEO = 6

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex")
const SPS = hex("6764001eacd940a02ff970110000030001000003003c0f162d96") // 640x360, from a real libx264 encode
const PPS = hex("68ebe3cb22c0")
const AVCC = Buffer.concat([hex("0164001effe1001a"), SPS, hex("010006"), PPS])

const code = (values: ReadonlyArray<Amf0Value>) => amf0Property(values[3], "code")

/** connect, Set Chunk Size 4096, releaseStream, FCPublish, createStream, publish: OBS's order and arguments. */
const obsPublish = (client: ScriptedClient, port: number, key: string) =>
  Effect.gen(function*() {
    yield* client.handshake
    yield* client.command(CSID_COMMAND, 0, "connect", 1, {
      app: "live",
      type: "nonprivate",
      flashVer: "FMLE/3.0 (compatible; FMSc/1.0)",
      swfUrl: `rtmp://127.0.0.1:${port}/live`,
      tcUrl: `rtmp://127.0.0.1:${port}/live`
    })
    const connected = yield* client.awaitCommand("_result")
    assert.strictEqual(code(connected), "NetConnection.Connect.Success")
    yield* client.useChunkSize(4096)
    yield* client.command(CSID_COMMAND, 0, "releaseStream", 2, null, key)
    yield* client.command(CSID_COMMAND, 0, "FCPublish", 3, null, key)
    yield* client.command(CSID_COMMAND, 0, "createStream", 4, null)
    let created = yield* client.awaitCommand("_result")
    while (created[1] !== 4) created = yield* client.awaitCommand("_result")
    const streamId = created[3] as number
    yield* client.command(CSID_PUBLISH, streamId, "publish", 5, null, key, "live")
    return { streamId, status: yield* client.awaitCommand("onStatus") }
  })

const videoTag = (keyframe: boolean, packetType: number, cts: number, data: Buffer) => {
  const head = Buffer.alloc(5)
  head[0] = ((keyframe ? 1 : 2) << 4) | 7
  head[1] = packetType
  head.writeIntBE(cts, 2, 3)
  return Buffer.concat([head, data])
}

/** A fake access unit of `size` bytes as one 4-byte length-prefixed NAL unit; content only has to arrive intact. */
const accessUnit = (size: number, seed: number) => {
  const nal = Buffer.from(Array.from({ length: size - 4 }, (_, i) => (i * 13 + seed) & 0xff))
  nal[0] = 0x65
  return Buffer.concat([Buffer.from([0, 0, (size - 4) >> 8, (size - 4) & 0xff]), nal])
}

const awaitClosed = (publication: CollectedPublication) =>
  Deferred.await(publication.closed).pipe(Effect.timeout(Duration.seconds(5)))

describe("RtmpConnection with a scripted OBS-like client", () => {
  it.live("accepts OBS's command sequence, metadata and chunk size 4096, and delivers the frames intact", () =>
    Effect.gen(function*() {
      const publisher = makeCollectingPublisher()
      const logs = makeCapturedLogs()
      yield* Effect.gen(function*() {
        const { port } = yield* RtmpServer
        // Full (fmt 0) headers carry absolute timestamps, so those past 0xffffff use extended timestamps, and the
        // 10 kB keyframes repeat them on their fmt 3 continuation chunks.
        const client = yield* connectScriptedClient(port, { compressHeaders: false })
        const { streamId, status } = yield* obsPublish(client, port, "obs-key?record=false")
        assert.strictEqual(code(status), "NetStream.Publish.Start")

        const media = (chunkStreamId: number, typeId: number, timestamp: number, payload: Buffer) =>
          client.send({ chunkStreamId, typeId, streamId, timestamp, payload })
        yield* media(CSID_AUDIO, MessageType.dataAmf0, 0, encodeAmf0("@setDataFrame", "onMetaData", new Amf0EcmaArray({
          width: 640,
          height: 360,
          videocodecid: 7,
          audiocodecid: 10,
          framerate: 30,
          encoder: "obs-output module (libobs version 30.0.2)"
        })))
        // Timestamps start just below 0xffffff and cross it.
        const base = 0xffff00
        yield* media(CSID_VIDEO, MessageType.video, base, videoTag(true, 0, 0, AVCC))
        yield* media(CSID_AUDIO, MessageType.audio, base, Buffer.concat([hex("af00"), hex("1210")]))
        const sent: Array<{ dts: number; pts: number; keyframe: boolean; data: Buffer }> = []
        for (let i = 0; i < 20; i++) {
          const keyframe = i % 10 === 0
          const data = accessUnit(keyframe ? 10_000 : 900 + i, i)
          const dts = base + i * 33
          sent.push({ dts, pts: dts + 66, keyframe, data })
          yield* media(CSID_VIDEO, MessageType.video, dts, videoTag(keyframe, 1, 66, data))
          yield* media(CSID_AUDIO, MessageType.audio, dts, Buffer.concat([hex("af01"), Buffer.alloc(200, i)]))
        }
        yield* client.command(CSID_COMMAND, 0, "FCUnpublish", 6, null, "obs-key")
        yield* client.command(CSID_COMMAND, 0, "deleteStream", 7, null, streamId)

        assert.strictEqual(publisher.publications.length, 1)
        const [publication] = publisher.publications
        assert.deepStrictEqual(yield* awaitClosed(publication), {
          failed: false,
          message: "client unpublished (FCUnpublish)"
        })
        assert.deepStrictEqual(publication.request, {
          protocol: "RTMP",
          streamName: "obs-key",
          app: "live",
          query: { record: "false" },
          remoteAddress: client.localAddress,
          record: false
        })
        assert.deepStrictEqual(publication.tracks.map((t) => t.kind === "video" ? [t.codec, t.width, t.height] : [
          t.codec,
          t.sampleRate,
          t.channels
        ]), [["H264", 640, 360], ["AAC", 44100, 2]])
        const video = publication.frames.filter((f) => f.kind === "video")
        const audio = publication.frames.filter((f) => f.kind === "audio")
        assert.deepStrictEqual(
          video.map((f) => ({ dts: f.dts, pts: f.pts, keyframe: f.keyframe, data: Buffer.from(f.data) })),
          sent
        )
        assert.strictEqual(audio.length, 20)
        assert.deepStrictEqual(Buffer.from(audio[19].data), Buffer.alloc(200, 19))
        assert.deepStrictEqual(logs.lines.filter((l) => l.level === "Warn" || l.level === "Error"), [])
      }).pipe(Effect.provide(testServerLayer(publisher, logs)))
    }))

  it.live("closes the publication as not failed when the client just disconnects", () =>
    Effect.gen(function*() {
      const publisher = makeCollectingPublisher()
      const logs = makeCapturedLogs()
      yield* Effect.gen(function*() {
        const { port } = yield* RtmpServer
        const client = yield* connectScriptedClient(port)
        const { streamId } = yield* obsPublish(client, port, "cam")
        yield* client.send({
          chunkStreamId: CSID_VIDEO,
          typeId: MessageType.video,
          streamId,
          timestamp: 0,
          payload: videoTag(true, 0, 0, AVCC)
        })
        yield* client.end
        const [publication] = publisher.publications
        assert.deepStrictEqual(yield* awaitClosed(publication), { failed: false, message: "client disconnected" })
        assert.strictEqual(publication.tracks.length, 1)
        assert.deepStrictEqual(logs.lines.filter((l) => l.level === "Warn"), [])
      }).pipe(Effect.provide(testServerLayer(publisher, logs)))
    }))

  it.live("answers NetStream.Publish.BadName and closes when the Publisher rejects the stream", () =>
    Effect.gen(function*() {
      const publisher = makeCollectingPublisher((request) =>
        request.streamName === "taken" ? "stream taken is already being published" : undefined
      )
      const logs = makeCapturedLogs()
      yield* Effect.gen(function*() {
        const { port } = yield* RtmpServer
        const client = yield* connectScriptedClient(port)
        const { status } = yield* obsPublish(client, port, "taken")
        assert.strictEqual(code(status), "NetStream.Publish.BadName")
        assert.strictEqual(amf0Property(status[3], "description"), "stream taken is already being published")
        yield* client.awaitClosed
        assert.strictEqual(publisher.publications.length, 0)
        assert.isTrue(logs.lines.some((l) => l.message.includes("rejected: stream taken is already being published")))
      }).pipe(Effect.provide(testServerLayer(publisher, logs)))
    }))
})

describe("splitQuery", () => {
  it.each([
    ["test", "test", {}],
    ["test?login=bob&record=false", "test", { login: "bob", record: "false" }],
    ["a?x=%20y&flag", "a", { x: " y", flag: "" }]
  ])("%s", (raw, name, query) => {
    assert.deepStrictEqual(splitQuery(raw), { name, query })
  })
})

/** Drives the pure state machine through the handshake, then exchanges chunked messages with it. */
const driveConnection = () => {
  const connection = new RtmpConnection({
    remoteAddress: "192.0.2.1:1935",
    record: true,
    chunkSize: 4096,
    windowAckSize: 2_500_000,
    maxMessageLength: 1 << 20
  })
  const writer = new ChunkWriter()
  const replies = new ChunkReader()
  let bytesSent = 0
  const receive = (bytes: Buffer) => {
    bytesSent += bytes.length
    connection.receive(bytes)
  }
  receive(Buffer.concat([Buffer.from([3]), Buffer.alloc(HANDSHAKE_SIZE)]))
  const s0s1s2 = Buffer.concat(connection.takeOutput())
  assert.strictEqual(s0s1s2.length, 1 + 2 * HANDSHAKE_SIZE)
  receive(Buffer.alloc(HANDSHAKE_SIZE))
  return {
    connection,
    bytesSent: () => bytesSent,
    send: (message: RtmpMessage) => {
      receive(writer.write(message))
      return connection.next()
    },
    command: (...values: ReadonlyArray<Amf0Value>) => {
      const payload = encodeAmf0(...values)
      receive(writer.write({ chunkStreamId: 3, typeId: MessageType.commandAmf0, streamId: 0, timestamp: 0, payload }))
      return connection.next()
    },
    replies: () => replies.feed(Buffer.concat(connection.takeOutput())),
    replyChunkSize: () => replies.peerChunkSize
  }
}

describe("RtmpConnection state machine", () => {
  it("answers connect with Window Ack Size, Set Peer Bandwidth, Set Chunk Size and _result (7.2.1.1)", () => {
    const peer = driveConnection()
    assert.isUndefined(peer.command("connect", 1, { app: "live/", tcUrl: "rtmp://example/ignored" }))
    const replies = peer.replies()
    assert.deepStrictEqual(replies.map((m) => m.typeId), [5, 6, 20])
    assert.deepStrictEqual(replies[0].payload.readUInt32BE(0), 2_500_000)
    assert.deepStrictEqual([...replies[1].payload], [0x00, 0x26, 0x25, 0xa0, 2])
    assert.strictEqual(peer.replyChunkSize(), 4096) // Set Chunk Size was applied by the reading side
    const result = decodeAmf0(replies[2].payload)
    assert.deepStrictEqual(result.slice(0, 2), ["_result", 1])
    assert.strictEqual(amf0Property(result[3], "code"), "NetConnection.Connect.Success")
  })

  it("takes the app from tcUrl when connect has none, and merges its query into the publish query", () => {
    const peer = driveConnection()
    peer.command("connect", 1, { tcUrl: "rtmp://example:1935/app2?token=t" })
    peer.command("createStream", 2, null)
    const action = peer.command("publish", 3, null, "s?login=bob", "live")
    assert.deepStrictEqual(action?._tag === "Publish" ? action.request : undefined, {
      protocol: "RTMP",
      streamName: "s",
      app: "app2",
      query: { token: "t", login: "bob" },
      remoteAddress: "192.0.2.1:1935",
      record: true
    })
  })

  it("sends an Acknowledgement each time the bytes received cross the window the peer set (5.4.3)", () => {
    const peer = driveConnection()
    const window = 8000
    peer.send(windowAckSize(window))
    peer.replies()
    let acknowledged = 0
    for (let i = 0; i < 10; i++) {
      peer.send({ chunkStreamId: 6, typeId: MessageType.video, streamId: 1, timestamp: i, payload: Buffer.alloc(3000) })
      const acks = peer.replies().filter((m) => m.typeId === MessageType.acknowledgement)
      // The sequence number counts every byte received, handshake included.
      const due = peer.bytesSent() - acknowledged >= window
      assert.deepStrictEqual(acks.map((m) => m.payload.readUInt32BE(0)), due ? [peer.bytesSent()] : [], `send ${i}`)
      if (due) acknowledged = peer.bytesSent()
    }
    assert.isAbove(acknowledged, 2 * window)
  })

  it("fails only with RtmpProtocolError, whatever a publishing peer sends", () => {
    const message = fc.record({
      chunkStreamId: fc.integer({ min: 3, max: 70 }),
      typeId: fc.integer({ min: 3, max: 22 }), // everything but Set Chunk Size and Abort, which the reader owns
      streamId: fc.constantFrom(0, 1),
      timestamp: fc.nat(),
      payload: fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        // Plausible heads: FLV AVC/AAC tags and AMF0 markers, followed by noise.
        fc.tuple(fc.constantFrom([0x17, 0x00], [0x17, 0x01], [0x27, 0x01], [0xaf, 0x00], [0xaf, 0x01], [0x02], [0x03]),
          fc.uint8Array({ maxLength: 64 })).map(([head, tail]) => Uint8Array.from([...head, ...tail]))
      )
    })
    fc.assert(
      fc.property(fc.array(message, { maxLength: 20 }), fc.uint8Array({ maxLength: 40 }), (messages, garbage) => {
        const peer = driveConnection()
        peer.command("connect", 1, { app: "live" })
        peer.command("createStream", 2, null)
        const publish = peer.command("publish", 3, null, "fuzz", "live")
        assert.strictEqual(publish?._tag, "Publish")
        peer.connection.published({ mediaSessionId: "m", track: () => {}, frame: () => {}, close: () => Effect.void })
        try {
          for (const m of messages) {
            let action = peer.send({ ...m, payload: Buffer.from(m.payload) })
            while (action !== undefined) {
              if (action._tag === "Unpublish") peer.connection.unpublished()
              action = peer.connection.next()
            }
          }
          peer.connection.receive(Buffer.from(garbage))
          peer.connection.next()
        } catch (error) {
          assert.instanceOf(error, RtmpProtocolError, String(error))
        }
      }),
      { numRuns: 500 }
    )
  })
})
