// The web config's rate_limit, as exporter-toolkit applies it (golang.org/x/time/rate): one token
// bucket for the whole server, `burst` tokens deep, one token back every `interval`; a request
// that finds it empty is answered 429 before anything else is done for it.

import type { RateLimitSettings } from './web-config';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly settings: RateLimitSettings,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = settings.burst;
    this.last = this.now();
  }

  /** Takes a token if there is one. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.settings.burst, this.tokens + (t - this.last) / this.settings.intervalMs);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
