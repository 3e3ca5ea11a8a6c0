// The namespace set's view of the file system: whether a namespace is mounted on a file, the
// names in a directory, and a watch on it (inotify through fs.watch). Replaceable in tests.

import * as fs from 'node:fs';
import type { Probe } from './namespace-specs';

/** statfs f_type of a namespace file (include/uapi/linux/magic.h NSFS_MAGIC). */
export const NSFS_MAGIC = 0x6e736673;

export function probeNamespaceFile(path: string): Probe {
  try {
    const ino = fs.statSync(path).ino;
    return fs.statfsSync(path).type === NSFS_MAGIC ? { state: 'mounted', ino } : { state: 'unmounted' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    return code === 'ENOENT' || code === 'ENOTDIR' ? { state: 'missing' } : { state: 'unknown', code };
  }
}

/** File system operations, replaceable in tests. */
export interface NamespaceFs {
  probe(path: string): Probe;
  /** Names in a directory; undefined when it does not exist; throws on any other failure (EMFILE: no names known, not none). */
  list(dir: string): string[] | undefined;
  /** The directory's inode, or undefined when it does not exist. */
  dirIno(dir: string): number | undefined;
  /** fs.watch(dir), not persistent; calls `onChange` on any event, `onError` if the watch dies. */
  watch(dir: string, onChange: () => void, onError: () => void): { close(): void };
}

/** The real file system. */
export const realFs: NamespaceFs = {
  probe: probeNamespaceFile,
  list(dir) {
    try {
      return fs.readdirSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
  },
  dirIno(dir) {
    try {
      const st = fs.statSync(dir);
      return st.isDirectory() ? st.ino : undefined;
    } catch {
      return undefined;
    }
  },
  watch(dir, onChange, onError) {
    const w = fs.watch(dir, { persistent: false }, () => onChange());
    w.on('error', () => {
      w.close();
      onError();
    });
    return w;
  },
};
