// What every scenario gets: the scale factor, and a place to log progress (stderr, so the
// table on stdout stays clean).

export interface Context {
  scale: number;
  /** Scales a size, never below `min`. */
  size(full: number, min?: number): number;
  log(msg: string): void;
}

export function makeContext(scale: number): Context {
  const t0 = Date.now();
  return {
    scale,
    size: (full, min = 1) => Math.max(min, Math.round(full * scale)),
    log: (msg) => process.stderr.write(`[bench +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`),
  };
}
