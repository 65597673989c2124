/**
 * The manual's REST API as end-to-end tests and drivers call it: a JSON POST to a running server (capstan-process.ts)
 * and the id of a media session once it publishes both its tracks.
 */
import { until } from "./wait.ts"

/** Where a running server answers: CapstanProcess has it. */
export interface RestServer {
  readonly url: (pathname: string) => string
}

/** POSTs `body` as JSON; the status and the parsed JSON answer. */
export const post = async (server: RestServer, pathname: string, body: unknown) => {
  const response = await fetch(server.url(pathname), { method: "POST", body: JSON.stringify(body) })
  return { status: response.status, json: await response.json() as any }
}

/** The mediaSessionId of the stream `name` once /rest-api/stream/find_all shows it PUBLISHING with two tracks. */
export const publishingSessionId = (server: RestServer, name: string, timeoutMs?: number): Promise<string> =>
  until(`session ${name}`, async () => {
    const { json } = await post(server, "/rest-api/stream/find_all", { name })
    const session = json.find((s: any) => s.status === "PUBLISHING" && s.tracks.length === 2)
    return session?.mediaSessionId as string | undefined
  }, timeoutMs)
