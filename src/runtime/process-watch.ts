// The process watcher's JS surface (addon/process_watch.cc, its own module: nothing shared with
// the netlink socket), typed, and its loader. A /proc/PID/ns/net namespace lives as long as its
// process: the namespace set (src/session/namespaces.ts) lets go of it when the process exits.

/** Watches one process through a pidfd; the callback runs once, when it exits. */
export interface ProcessWatch {
  readonly pid: number;
  /** Stops watching; the callback is not called after it. Idempotent. */
  close(): void;
  /** Does not keep the event loop alive for this watch (as fs.watch's persistent: false). */
  unref(): void;
}

export interface ProcessWatchConstructor {
  /**
   * Throws a Node-shaped error (`code` 'ESRCH', `syscall` 'pidfd_open') when no such process
   * runs. `onExit` gets null, or an error if polling the pidfd failed.
   */
  new (pid: number, onExit: (err: NodeJS.ErrnoException | null) => void): ProcessWatch;
}

let processWatch: ProcessWatchConstructor | undefined;

/** Loads build/Release/process_watch.node, built by node-gyp at `npm ci`. */
export function loadProcessWatch(): ProcessWatchConstructor {
  // dist/src/runtime/process-watch.js -> ../../../build/Release
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  processWatch ??= (require('../../../build/Release/process_watch.node') as { ProcessWatch: ProcessWatchConstructor })
    .ProcessWatch;
  return processWatch;
}
