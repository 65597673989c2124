/**
 * ICE candidate lines of an SDP (RFC 8839 5.1: `a=candidate:<foundation> <component> <transport> <priority>
 * <address> <port> typ <type> ...`): which addresses a description advertises, and an answer cut down to the
 * addresses the server is allowed to use.
 */

const CANDIDATE = /^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ /

/** Every address in the description's candidate lines, in order. */
export const candidateAddresses = (sdp: string): Array<string> =>
  sdp.split(/\r?\n/).flatMap((line) => {
    const match = CANDIDATE.exec(line)
    return match === null ? [] : [match[1]!]
  })

/** The description without the candidates whose address is not allowed. */
export const keepCandidates = (sdp: string, allowed: (address: string) => boolean): string =>
  sdp
    .split("\r\n")
    .filter((line) => {
      const match = CANDIDATE.exec(line)
      return match === null || allowed(match[1]!)
    })
    .join("\r\n")
