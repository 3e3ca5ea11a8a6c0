// The codec's one error type. decodeDatagram catches it, reports it through
// MessageSink.decodeError and moves on to the next message; anything else thrown
// by the codec is a bug and propagates.

export class NetlinkDecodeError extends Error {
  override readonly name = 'NetlinkDecodeError';
  /** nlmsg_type of the message being decoded, -1 when not known (decodeDatagram fills it in). */
  messageType = -1;

  /**
   * @param reason  short, stable text ("bad attribute length"): usable in a log line or a label
   * @param offset  byte offset in the buffer where the bad field starts
   * @param detail  optional specifics for the message ("payload 2 bytes, need 4")
   */
  constructor(
    readonly reason: string,
    readonly offset: number,
    detail?: string,
  ) {
    super(detail === undefined ? `${reason} at offset ${offset}` : `${reason} at offset ${offset}: ${detail}`);
  }
}
