/**
 * Bounded waiting for end-to-end tests: poll a condition until it yields a value, or fail naming what was awaited.
 */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export const until = async <A>(
  what: string,
  poll: () => A | undefined | Promise<A | undefined>,
  timeoutMs = 20_000
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = await poll()
    if (value !== undefined) return value
    await sleep(100)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}
