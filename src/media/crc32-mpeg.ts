/**
 * CRC-32/MPEG-2 of MPEG-TS sections (ISO/IEC 13818-1 Annex A): polynomial 0x04C11DB7, initial value 0xFFFFFFFF,
 * no reflection, no final XOR. The TS muxer writes it and the TS demuxer checks it.
 */
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let crc = n << 24
  for (let k = 0; k < 8; k++) crc = crc & 0x8000_0000 ? (crc << 1) ^ 0x04c1_1db7 : crc << 1
  return crc >>> 0
})

export const crc32Mpeg = (bytes: Uint8Array): number => {
  let crc = 0xffff_ffff
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]!) & 0xff]!) >>> 0
  return crc
}
