// Reads a file that should be small (a config file, a PEM certificate or key) with a bound, so a
// path that names /dev/zero, a FIFO or a huge file is refused instead of reading forever: the web
// config's cert_file set to /dev/zero read 16.8 GB in 74 s and then the process died, at start-up
// or on a reload (which must never stop the process). Opened non-blocking so that a FIFO with no
// writer cannot hold the event loop in open(2).

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export class SmallFileError extends Error {
  override name = 'SmallFileError';
}

/** The text of a regular file of at most `maxBytes`; throws SmallFileError saying why not (an errno code, not a regular file, too big). */
export function readSmallFile(path: string, maxBytes: number): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new SmallFileError((err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new SmallFileError('not a regular file');
    // One byte more than allowed tells a file at the bound from one past it (which may have grown since any stat).
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) throw new SmallFileError(`larger than ${maxBytes} bytes`);
    }
    return buffer.toString('utf8', 0, length);
  } catch (err) {
    if (err instanceof SmallFileError) throw err;
    throw new SmallFileError((err as NodeJS.ErrnoException).code ?? (err as Error).message);
  } finally {
    closeSync(fd);
  }
}
