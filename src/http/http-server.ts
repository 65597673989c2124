/**
 * Builds Capstan's HTTP app (the recorder REST API, its OpenAPI document, record downloads, CORS) and serves it
 * with Node. Route layers are kept apart from listening so more routes (WHIP, pages) can be merged in later.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { createServer } from "node:http"
import { RecordCuts } from "./record-cuts.ts"
import { recordDownloadRoutes, type RecordDownloadsOptions } from "./record-downloads.ts"
import { openApiPath, RecorderApi } from "./recorder-api.ts"
import { RecorderApiHandlers } from "./recorder-handlers.ts"

/** The REST endpoints of recorder-api.ts and `GET /rest-api/openapi.json`; they need RecorderControl. */
export const recorderApiRoutes = HttpApiBuilder.layer(RecorderApi, { openapiPath: openApiPath }).pipe(
  Layer.provide(RecorderApiHandlers)
)

/**
 * `Access-Control-Allow-Origin: *` on every answer, and a 204 to every preflight (OPTIONS) with the allowed methods
 * and headers. The exposed headers let a page on another origin read ranges and download names.
 */
export const corsRoutes = HttpRouter.cors({
  allowedMethods: ["GET", "HEAD", "POST", "DELETE", "PATCH", "OPTIONS"],
  allowedHeaders: ["Content-Type", "Range", "Authorization"],
  exposedHeaders: [
    "Content-Disposition",
    "Content-Range",
    "Content-Length",
    "Accept-Ranges",
    "Location",
    "X-Media-Session-Id"
  ],
  maxAge: 600
})

/** Everything Capstan's HTTP layer serves today, ready to merge with other route layers. */
export const httpRoutes = (options: RecordDownloadsOptions) =>
  Layer.mergeAll(recorderApiRoutes, recordDownloadRoutes(options), corsRoutes)

export interface ListenOptions {
  /** Interface to bind, e.g. "0.0.0.0" or "127.0.0.1". */
  readonly host: string
  /** TCP port; 0 picks a free one (read it back with `boundPort`). */
  readonly port: number
  /** Leave out the per-request and "listening on" log lines. */
  readonly quiet?: boolean | undefined
}

/**
 * Serves `routes` with Node on `host:port`. The layer outputs the `HttpServer` (its `address` is the bound one) and
 * needs whatever the routes need that is not an HTTP platform service, e.g. RecorderControl. Provide those after
 * this layer, not to the route layers: services provided inside `serve` fail at request time.
 */
export const serveRoutes = <E, R>(routes: Layer.Layer<never, E, R>, options: ListenOptions) =>
  HttpRouter.serve(routes, { disableLogger: options.quiet, disableListenLog: options.quiet }).pipe(
    Layer.provideMerge(NodeHttpServer.layerServer(createServer, { host: options.host, port: options.port })),
    Layer.provide(NodeHttpServer.layerHttpServices)
  )

export interface HttpServerOptions extends ListenOptions, RecordDownloadsOptions {
  /** mp4_cutter_dir: where time-range cuts are stored; record_dir when left out. */
  readonly cutterDir?: string | undefined
}

/** The whole HTTP layer on one port, time-range cuts included. Requires RecorderControl. */
export const serveHttp = (options: HttpServerOptions) =>
  serveRoutes(httpRoutes(options), options).pipe(
    Layer.provide(RecordCuts.layer({ cutterDir: options.cutterDir ?? options.recordDir }))
  )

/** The TCP port the server is bound to (useful after listening on port 0). */
export const boundPort: Effect.Effect<number, never, HttpServer.HttpServer> = Effect.map(
  HttpServer.HttpServer,
  (server) => server.address._tag === "UnixPathAddress" ? 0 : server.address.port
)
