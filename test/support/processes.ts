/**
 * Whether a process still exists, for tests that check a child (ffmpeg, a hook) and everything it started are gone.
 */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
