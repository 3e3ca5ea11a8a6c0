// Decoded text for byte sequences the kernel sends again and again: interface names, link
// kinds, MAC addresses. A flap burst repeats the same few hundred of them in every
// RTM_NEWLINK; decoding each afresh cost a Buffer.toString call (argument checks, a slice) and
// a new string per attribute, which then had to be collected. A hit costs a hash and a byte
// compare, allocates nothing, and the records that keep the text share one string.

const SLOTS = 1024;
/** Longer sequences are decoded every time (IFNAMSIZ is 16; MACs are 6 to 32 bytes). */
const MAX_BYTES = 32;

/** A direct-mapped cache: one entry per slot, a new sequence replaces what its slot held. */
export class ByteTextCache {
  private readonly bytes = new Uint8Array(SLOTS * MAX_BYTES);
  private readonly lengths = new Int32Array(SLOTS).fill(-1);
  private readonly texts: string[] = new Array<string>(SLOTS).fill('');

  /** `decode` must depend on the bytes alone: its result is returned for equal bytes later. */
  constructor(private readonly decode: (buf: Uint8Array, start: number, end: number) => string) {}

  text(buf: Uint8Array, start: number, end: number): string {
    const n = end - start;
    if (n > MAX_BYTES) return this.decode(buf, start, end);
    let h = 0x811c9dc5 ^ n;
    for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
    const slot = (h ^ (h >>> 15)) & (SLOTS - 1);
    const base = slot * MAX_BYTES;
    if (this.lengths[slot] === n) {
      let i = 0;
      while (i < n && this.bytes[base + i] === buf[start + i]) i++;
      if (i === n) return this.texts[slot] as string;
    }
    const text = this.decode(buf, start, end);
    for (let i = 0; i < n; i++) this.bytes[base + i] = buf[start + i] as number;
    this.lengths[slot] = n;
    this.texts[slot] = text;
    return text;
  }
}
