/**
 * Writing a moov into the region reserved after the ftyp (mp4_container_moov_first_reserve_space), as the region's
 * first box followed by a `free` box for the rest (ISO/IEC 14496-12 8.1.2), while the file may be read or the
 * process may die at any instant.
 *
 * The order keeps the file parseable and its header honest at every step, each step made durable (fdatasync)
 * before the next starts:
 *   1. the region becomes one `free` box (8 bytes at its start): no header at all, never a half-written one;
 *      this sync also makes durable every chunk the new moov references, since they were written before
 *   2. the moov's body and the header of the trailing `free` box, all inside that free box, so still ignored
 *   3. the moov's own 8-byte header (size and type) at the region's start: the one write that makes it visible.
 * The 8 bytes of steps 1 and 3 lie in one disk sector, which devices write whole. A crash between 1 and 3 leaves
 * a file without header, which recovery rebuilds from the journal.
 */
import { Effect } from "effect"
import { freeBoxHeader, REGION_AT } from "./data-layout.ts"
import { dataSync, writeAll } from "./descriptor-io.ts"

/** Whether a moov of `moovBytes` fits a region of `reservedBytes`: exactly, or with room for a free box after it. */
export const fitsReservation = (moovBytes: number, reservedBytes: number): boolean =>
  moovBytes === reservedBytes || moovBytes + 8 <= reservedBytes

export interface RegionWrite {
  readonly position: number
  readonly bytes: Uint8Array
}

/** The three writes of the steps above, in order; `moov` must fit the reservation. */
export const regionWrites = (moov: Uint8Array, reservedBytes: number): ReadonlyArray<RegionWrite> => {
  const rest = reservedBytes - moov.length
  const body = Buffer.alloc(moov.length - 8 + (rest > 0 ? 8 : 0))
  body.set(moov.subarray(8), 0)
  if (rest > 0) freeBoxHeader(rest).copy(body, moov.length - 8)
  return [
    { position: REGION_AT, bytes: freeBoxHeader(reservedBytes) },
    { position: REGION_AT + 8, bytes: body },
    { position: REGION_AT, bytes: moov.subarray(0, 8) }
  ]
}

/** Runs the region writes on `fd`, each followed by an fdatasync. */
export const writeRegion = (fd: number, file: string, moov: Uint8Array, reservedBytes: number) =>
  Effect.forEach(
    regionWrites(moov, reservedBytes),
    (write) => writeAll(fd, write.bytes, write.position, file).pipe(Effect.andThen(dataSync(fd, file))),
    { discard: true }
  ).pipe(Effect.withSpan("Mp4Header.writeRegion"))
