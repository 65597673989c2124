/**
 * The RTCP Full Intra Request (RFC 5104 4.3.1), which werift can parse but does not export for sending. A payload
 * specific feedback packet (RFC 4585 6.1) with FMT 4, one FCI entry, and media source SSRC 0 (4.3.1.2):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |V=2|P| FMT=4   |    PT=206     |          length=4             |
 *   |                  SSRC of packet sender                        |
 *   |                  SSRC of media source = 0                     |
 *   |                  SSRC (the stream asked for a key frame)      |
 *   | Seq nr.       |    Reserved                                   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

const PSFB = 206
const FMT_FIR = 4

export const serializeFullIntraRequest = (senderSsrc: number, mediaSsrc: number, sequenceNumber: number): Buffer => {
  const packet = Buffer.alloc(20)
  packet[0] = 0x80 | FMT_FIR
  packet[1] = PSFB
  packet.writeUInt16BE(packet.length / 4 - 1, 2)
  packet.writeUInt32BE(senderSsrc >>> 0, 4)
  packet.writeUInt32BE(0, 8)
  packet.writeUInt32BE(mediaSsrc >>> 0, 12)
  packet[16] = sequenceNumber & 0xff
  return packet
}
