/**
 * Capstan as a Layer: the config, crash recovery at start, the session registry and multi-recorders, the
 * ingests (RTMP, WHIP, RTSP pulls, MPEG-TS over UDP) and the HTTP server, wired together. `capstan serve`
 * launches it; another Effect program can provide it to run the whole recorder inside itself.
 */
import { NodeServices } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { MediaSessions } from "./actors/media-sessions.ts"
import { MultiRecorders } from "./actors/multi-recorders.ts"
import { startupRecoveryLayer } from "./actors/startup-recovery.ts"
import { recorderEnvironmentLayer } from "./actors/recorder-environment.ts"
import { CapstanConfig } from "./config/service.ts"
import { boundPort, httpRoutes, serveRoutes } from "./http/http-server.ts"
import { multiRecorderRoutes } from "./http/multi-recorder-api.ts"
import { mpegTsApiRoutes } from "./http/mpegts-api.ts"
import { RecordCuts } from "./http/record-cuts.ts"
import { rtspApiRoutes } from "./http/rtsp-api.ts"
import { clientPageRoutes } from "./http/client-pages.ts"
import { whipRoutes } from "./http/whip-api.ts"
import { WhipIngest } from "./protocols/webrtc/whip-ingest.ts"
import { RtspPulls } from "./protocols/rtsp/rtsp-pulls.ts"
import { MpegTsIngest } from "./protocols/mpegts/mpegts-ingest.ts"
import { DiskSpace } from "./pipelines/disk-guard.ts"
import { AudioTranscoder } from "./pipelines/audio-transcoder.ts"
import { FinalizerPool } from "./pipelines/finalizer-pool.ts"
import { RtmpServer } from "./protocols/rtmp/server.ts"

export interface CapstanOptions {
  /** A properties file; when absent, `$CAPSTAN_CONFIG` or the built-in defaults. */
  readonly configFile?: string | undefined
  /** Keys given directly (embedding, tests); they win over `configFile`. */
  readonly properties?: Readonly<Record<string, string>> | undefined
}

/** The running recorder: where it listens and its media sessions. */
export class Capstan extends Context.Service<Capstan, {
  readonly httpPort: number
  readonly rtmpPort: number
  readonly recordDir: string
  readonly sessions: MediaSessions["Service"]
}>()("capstan/Capstan") {
  /** The whole recorder; its servers listen while the layer's scope is open. */
  static readonly layer = (options: CapstanOptions = {}) => {
    const config = options.properties === undefined
      ? CapstanConfig.layerFromFile(options.configFile)
      : CapstanConfig.layerFromProperties(options.properties)
    return Layer.effect(Capstan, started).pipe(
      Layer.provide(servers.pipe(Layer.provide(startupRecovery))),
      Layer.provideMerge(MultiRecorders.layer),
      Layer.provideMerge(MediaSessions.layer),
      Layer.provide(DiskSpace.layer),
      Layer.provide(finalizerPool),
      Layer.provide(AudioTranscoder.layer),
      Layer.provide(recorderEnvironmentLayer),
      Layer.provideMerge(config),
      Layer.provide(NodeServices.layer)
    )
  }
}

const startupRecovery = Layer.unwrap(
  Effect.map(CapstanConfig, (config) => startupRecoveryLayer(config.mp4ContainerMoovFirst))
)

const finalizerPool = Layer.unwrap(
  Effect.map(CapstanConfig, (config) => FinalizerPool.layer(config.fileRecorderThreadPoolMaxSize))
)

const servers = Layer.unwrap(Effect.gen(function*() {
  const config = yield* CapstanConfig
  return Layer.mergeAll(
    RtmpServer.layer({
      host: config.bindAddress,
      port: config.rtmpPort,
      record: config.recordFlashPublishedStreams
    }),
    serveRoutes(
      Layer.mergeAll(
        httpRoutes({
          recordDir: config.recordDir,
          contentDisposition: config.recordResponseContentDispositionHeaderValue
        }),
        multiRecorderRoutes,
        mpegTsApiRoutes,
        rtspApiRoutes,
        whipRoutes,
        clientPageRoutes({ recordDir: config.recordDir })
      ),
      { host: config.bindAddress, port: config.httpPort, quiet: true }
    ).pipe(
      Layer.provide(RecordCuts.layer({ cutterDir: config.mp4CutterDir })),
      Layer.provide(MpegTsIngest.layer({ host: config.bindAddress, record: true, timeout: config.mpegtsStreamTimeout })),
      Layer.provide(RtspPulls.layer({ record: config.recordRtspStreams })),
      Layer.provide(WhipIngest.layer({
        // record_streams decides in the session; `?record=false` turns it off for one publication.
        record: true,
        iceHostAddresses: config.webrtcIceHostAddresses,
        iceHostAddressesOnly: config.webrtcIceHostAddresses.length > 0,
        portRange: config.webrtcPortRange,
        preInit: config.webrtcPreInit,
        periodicFirRequest: config.periodicFirRequest
      }))
    )
  )
}))

const started = Effect.gen(function*() {
  const config = yield* CapstanConfig
  const sessions = yield* MediaSessions
  const rtmp = yield* RtmpServer
  const httpPort = yield* boundPort
  yield* HttpServer.HttpServer
  yield* Effect.logInfo(
    `capstan ready: http on ${config.bindAddress}:${httpPort}, rtmp on ${rtmp.host}:${rtmp.port}, ` +
      `recording into ${config.recordDir}`
  )
  return Capstan.of({ httpPort, rtmpPort: rtmp.port, recordDir: config.recordDir, sessions })
})
