// The contract's families that prom-client serves, beside its process metrics (main.ts's
// registry): the HTTP server's, the event stream's and the config reloads'. Their owners keep
// plain numbers; these read them at scrape time. Names, help and labels come from the contract.

import { Counter, Gauge, Registry } from 'prom-client';
import { Family, METRICS } from './contract';

/** A gauge set from `read()` at each scrape. */
export function registerGauge(registry: Registry, def: Family<readonly []>, read: () => number): void {
  new Gauge({
    name: def.name,
    help: def.help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/**
 * A counter of a running total its owner keeps. A prom-client counter only goes up by inc(): add
 * what is new since the last scrape.
 */
export function registerCounter(registry: Registry, def: Family<readonly []>, read: () => number): void {
  let seen = 0;
  new Counter({
    name: def.name,
    help: def.help,
    registers: [registry],
    collect() {
      const now = read();
      this.inc(now - seen);
      seen = now;
    },
  });
}

/**
 * A counter of running totals by one label, one total per value of `values` (in that order).
 * Every value is announced at 0 from the start, so rate() sees the first one.
 */
export function registerCounterByLabel<V extends string>(
  registry: Registry,
  def: Family<readonly [string]>,
  values: readonly V[],
  read: () => Readonly<Record<V, number>>,
): void {
  const [label] = def.labels;
  const seen = Object.fromEntries(values.map((v) => [v, 0])) as Record<V, number>;
  new Counter({
    name: def.name,
    help: def.help,
    labelNames: def.labels,
    registers: [registry],
    collect() {
      const now = read();
      for (const value of values) {
        this.inc({ [label]: value }, now[value] - seen[value]);
        seen[value] = now[value];
      }
    },
  });
}

/** What a process knows of its configuration loads (src/runtime/lifecycle.ts's ReloadStatus). */
export interface ReloadOutcome {
  readonly successful: boolean;
  /** Seconds since the epoch. */
  readonly lastSuccess: number;
}

/** netlink_config_last_reload_successful and its timestamp, as Prometheus itself exports them. */
export function registerReloadMetrics(registry: Registry, reloads: ReloadOutcome): void {
  registerGauge(registry, METRICS.configLastReloadSuccessful, () => (reloads.successful ? 1 : 0));
  registerGauge(registry, METRICS.configLastReloadSuccessTimestamp, () => reloads.lastSuccess);
}
