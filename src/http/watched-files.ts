// Notices when any of a set of files changes, however it was changed: written in place, replaced
// by a rename (editors, cert-manager), or swapped behind a symlink (a Kubernetes Secret volume
// swaps its `..data` link, so the file names seen in the directory never include the watched
// ones). The directories are watched, and after every event that settles the files' identity
// (device, inode, size, modification time, following links) is compared with what was last read:
// only a real change calls back, so churn beside the files (a busy /etc/ssl) costs no reload.

import { FSWatcher, statSync, watch } from 'node:fs';
import { dirname } from 'node:path';

/** What each file is now; a missing file is a state too. */
function identity(files: readonly string[]): string {
  return files
    .map((f) => {
      try {
        const st = statSync(f, { bigint: true });
        return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code ?? 'error';
      }
    })
    .join('|');
}

export class WatchedFiles {
  private watchers: FSWatcher[] = [];
  private files: readonly string[] = [];
  private seen = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onChange: () => void,
    private readonly warn: (message: string, fields: Record<string, string>) => void,
    /** A save is often several events (truncate, write, rename): look once they settle. */
    private readonly settleMs = 100,
  ) {}

  /** Watches these files from now on, as they are now (they were just read). */
  watch(files: readonly string[]): void {
    this.close();
    this.files = files;
    this.seen = identity(files);
    for (const dir of new Set(files.map((f) => dirname(f)))) {
      try {
        const w = watch(dir, { persistent: false }, () => this.schedule());
        w.on('error', () => w.close());
        this.watchers.push(w);
      } catch (err) {
        this.warn('cannot watch the web config files; they are re-read on SIGHUP only', {
          dir,
          error: (err as Error).message,
        });
      }
    }
  }

  close(): void {
    for (const w of this.watchers.splice(0)) w.close();
    clearTimeout(this.timer);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const now = identity(this.files);
      if (now === this.seen) return;
      // Seen, whether the reload takes it or not: a file that stays bad is not re-read for nothing.
      this.seen = now;
      this.onChange();
    }, this.settleMs);
    this.timer.unref();
  }
}
