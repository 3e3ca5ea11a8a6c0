// Netlink carries its headers and attributes in the host's byte order, and the codec reads and
// writes them little-endian (src/netlink/: attributes.ts u16le/u32le, decode.ts, request.ts): on a
// big-endian host every length and type would read wrong, and the exporter would report nonsense
// rather than fail. So the addon's loader (native.ts) refuses to start unless both the host and
// the addon build are what the codec reads.

import { CODEC_BYTE_ORDER } from '../netlink/attributes';

export class ByteOrderError extends Error {
  override readonly name = 'ByteOrderError';
}

function orderName(order: string): string {
  return order === 'LE'
    ? 'little-endian'
    : order === 'BE'
      ? 'big-endian'
      : `of unknown byte order (${JSON.stringify(order)})`;
}

/**
 * Why the codec cannot read netlink here, or undefined when it can. `host` is what
 * os.endianness() says ('LE' or 'BE'); `addon` the order the netlink addon was compiled for
 * (undefined from a build that predates the check).
 */
export function byteOrderProblem(host: string, addon: string | undefined): string | undefined {
  if (host === CODEC_BYTE_ORDER && addon === CODEC_BYTE_ORDER) return undefined;
  const expects = `the codec reads netlink's host-order fields as ${orderName(CODEC_BYTE_ORDER)}`;
  if (host !== CODEC_BYTE_ORDER)
    return `this host is ${orderName(host)} (os.endianness() ${JSON.stringify(host)}), but ${expects}: netlink-exporter runs on little-endian hosts only`;
  if (addon === undefined)
    return `the netlink addon (build/Release/netlink_socket.node) does not say which byte order it was compiled for (a build older than this check): rebuild it with npm run build`;
  return `the netlink addon was compiled for a host that is ${orderName(addon)}, and this host is ${orderName(host)}; ${expects}: rebuild the addon on this host with npm run build`;
}

/** Throws ByteOrderError naming the host's byte order and the codec's when they differ. */
export function checkByteOrder(host: string, addon: string | undefined): void {
  const problem = byteOrderProblem(host, addon);
  if (problem !== undefined) throw new ByteOrderError(`byte order: ${problem}`);
}
