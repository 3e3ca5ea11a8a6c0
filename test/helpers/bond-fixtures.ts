// The synthetic bond and VRF fixtures (test/fixtures/bonds/, see its README: built from the UAPI
// layout on a captured veth message, no kernel sent them), decoded, for the tests that replay them.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeChunk } from '../../src/netlink/decode';
import type { LinkMessage, MessageSink } from '../../src/netlink/types';
import { FIXTURE_DIR } from './paths';

export const BOND_FIXTURE_DIR = join(FIXTURE_DIR, 'bonds');

/** The fixture names in order, without `.json`. */
export function bondFixtureNames(): string[] {
  return readdirSync(BOND_FIXTURE_DIR)
    .filter((f) => /^\d+-.*\.json$/.test(f))
    .sort()
    .map((f) => f.slice(0, -'.json'.length));
}

/** One fixture's chunk, framed as the native reader frames it. */
export function bondFixtureChunk(name: string): Buffer {
  const { hex } = JSON.parse(readFileSync(join(BOND_FIXTURE_DIR, `${name}.json`), 'utf8')) as { hex: string };
  return Buffer.from(hex, 'hex');
}

/** One fixture decoded: its link messages in order, and the decode errors' messages. */
export function decodeBondFixture(name: string): { links: LinkMessage[]; errors: string[] } {
  const links: LinkMessage[] = [];
  const errors: string[] = [];
  const sink: MessageSink = {
    link: (m) => links.push(m),
    address: () => errors.push('unexpected address'),
    route: () => errors.push('unexpected route'),
    neighbour: () => errors.push('unexpected neighbour'),
    nexthop: () => errors.push('unexpected nexthop'),
    rule: () => errors.push('unexpected rule'),
    done: () => errors.push('unexpected done'),
    error: () => errors.push('unexpected error'),
    other: () => errors.push('unexpected other'),
    decodeError: (e) => errors.push(e.message),
  };
  decodeChunk(bondFixtureChunk(name), sink);
  return { links, errors };
}

/** One fixture's datagrams, unframed, each a copy. */
export function bondFixtureDatagrams(name: string): Buffer[] {
  const chunk = bondFixtureChunk(name);
  const out: Buffer[] = [];
  for (let pos = 0; pos + 4 <= chunk.length;) {
    const length = chunk.readUInt32LE(pos);
    out.push(Buffer.from(chunk.subarray(pos + 4, pos + 4 + length)));
    pos += 4 + ((length + 3) & ~3);
  }
  return out;
}
