// Signals: SIGTERM and SIGINT stop the exporter gracefully within a bound and exit 0; SIGHUP
// re-reads the configuration. Which config changes apply live and which need a restart.

import type { Config } from '../config/config';
import type { Logger } from '../support/log';

/** A stop that has not finished by then is cut short (still exit 0: the stop was asked for). */
export const SHUTDOWN_DEADLINE_MS = 10_000;

export function onShutdown(logger: Logger, stop: () => Promise<void> | void): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) {
        logger.warn('second signal: exiting now', { signal });
        process.exit(0);
      }
      stopping = true;
      logger.info('shutting down', { signal });
      const deadline = setTimeout(() => {
        logger.warn('shutdown took too long; exiting anyway', { deadline_ms: SHUTDOWN_DEADLINE_MS });
        process.exit(0);
      }, SHUTDOWN_DEADLINE_MS);
      deadline.unref();
      void Promise.resolve()
        .then(stop)
        .catch((err: Error) => logger.error('error while shutting down', { error: err.message }))
        .finally(() => process.exit(0));
    });
  }
}

/**
 * SIGHUP runs `reload`. A reload never stops the process: whatever it throws goes to `failed`
 * (log it and set the reload metric), and the running configuration stays.
 */
export function onReload(reload: () => void, failed: (err: Error) => void): void {
  process.on('SIGHUP', () => {
    try {
      reload();
    } catch (err) {
      failed(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

/**
 * Keys whose new value takes effect only at the next start: the listener, the socket size
 * (new sockets would get it, open ones keep theirs), the ring's size and tracing.
 */
export function changesNeedingRestart(current: Config, next: Config): string[] {
  const keys: string[] = [];
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  if (current.web.listenAddress !== next.web.listenAddress) keys.push('web.listen_address');
  if (current.web.telemetryPath !== next.web.telemetryPath) keys.push('web.telemetry_path');
  if (current.web.configFile !== next.web.configFile) keys.push('web.config_file');
  if (
    current.web.maxConcurrentScrapes !== next.web.maxConcurrentScrapes ||
    current.web.maxQueuedScrapes !== next.web.maxQueuedScrapes
  )
    keys.push('web.max_concurrent_scrapes/max_queued_scrapes');
  if (current.web.headerTimeout !== next.web.headerTimeout || current.web.idleTimeout !== next.web.idleTimeout)
    keys.push('web.header_timeout/idle_timeout');
  if (current.socket.receiveBufferBytes !== next.socket.receiveBufferBytes) keys.push('socket.receive_buffer_bytes');
  if (current.log.format !== next.log.format) keys.push('log.format');
  if (
    current.events.bufferSize !== next.events.bufferSize ||
    current.events.streamMaxClients !== next.events.streamMaxClients
  )
    keys.push('events.buffer_size/stream_max_clients');
  if (!same(current.tracing, next.tracing)) keys.push('tracing');
  if (!same(current.opentelemetry, next.opentelemetry)) keys.push('opentelemetry');
  return keys;
}

/**
 * Whether the last configuration reload succeeded, and when a load last did: what
 * netlink_config_last_reload_successful and its timestamp read (src/metrics/registry.ts), as
 * Prometheus itself exports them. The start is a successful load.
 */
export class ReloadStatus {
  successful = true;
  /** Seconds since the epoch. */
  lastSuccess = 0;

  constructor() {
    this.record(true);
  }

  record(ok: boolean): void {
    this.successful = ok;
    if (ok) this.lastSuccess = Date.now() / 1000;
  }
}
