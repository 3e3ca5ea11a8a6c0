// The kernel's captured bytes (test/fixtures/NN-*.json, see its README), for the tests that
// replay them: each file's chunk in the native framing, and the datagrams inside.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_DIR } from './paths';

/** Every captured chunk in capture order, with its file name. */
export function capturedChunks(): { file: string; chunk: Buffer }[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => /^\d+-.*\.json$/.test(f))
    .sort()
    .map((file) => {
      const { hex } = JSON.parse(readFileSync(join(FIXTURE_DIR, file), 'utf8')) as { hex: string };
      return { file, chunk: Buffer.from(hex, 'hex') };
    });
}

/** The datagrams of every captured chunk, unframed ([u32 length][datagram][pad to 4]), each a copy. */
export function capturedDatagrams(): Buffer[] {
  const out: Buffer[] = [];
  for (const { chunk } of capturedChunks()) {
    for (let pos = 0; pos + 4 <= chunk.length;) {
      const len = chunk.readUInt32LE(pos);
      out.push(Buffer.from(chunk.subarray(pos + 4, pos + 4 + len)));
      pos += 4 + ((len + 3) & ~3);
    }
  }
  return out;
}
