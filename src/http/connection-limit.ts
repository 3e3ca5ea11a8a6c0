// How many connections the server holds at once, from the process's open-files limit.

import { readFileSync } from 'node:fs';

/** File descriptors HTTP connections never take: netlink sockets, namespace files, config and certificate reads, libuv's own. */
export const RESERVED_DESCRIPTORS = 256;

/** The soft limit on open files from /proc/self/limits text; undefined when unlimited or unreadable. */
export function openFilesLimit(limits: string): number | undefined {
  const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
  const n = soft === undefined ? NaN : Number(soft);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * Connections open at once: what the open-files limit leaves after the reserve (at least 16).
 * Idle connections are cut after the header timeout, but a client that opens them faster took
 * every descriptor: scrapes were refused and a namespace added meanwhile could not be opened.
 */
export function connectionCap(openFiles: number | undefined): number | undefined {
  return openFiles === undefined ? undefined : Math.max(16, openFiles - RESERVED_DESCRIPTORS);
}

function readOwnLimits(): string {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return '';
  }
}

/** The cap for this process, from its own open-files limit; undefined when that is unlimited or unreadable. */
export function ownConnectionCap(): number | undefined {
  return connectionCap(openFilesLimit(readOwnLimits()));
}
