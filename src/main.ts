#!/usr/bin/env node
// netlink-exporter: the command line. Parses flags and config, starts one watcher per network
// namespace, then either serves /metrics or (in `events` mode) prints each change on stdout.

import { watch, FSWatcher, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parseArgs, USAGE, UsageError, Invocation } from './cli';
import { anchoredRegex, Config, ConfigError } from './config';
import { EventBus, formatEventJson, formatEventLine } from './event-log';
import { createLogger, Logger } from './log';
import { renderNetlinkMetrics } from './metrics/collectors';
import { loadNativeSocket, trimMemory } from './netlink/native';
import { ExporterServer } from './server';
import { EventRing } from './events/ring';
import { startTracing } from './tracing';
import { createEventRoutes } from './web/event-routes';
import type { DomainEvent } from './state/events';
import { enableCollectOnRelease } from './state/memory';
import { namespacePath, NamespaceWatcher } from './watcher';

function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const VERSION = readVersion();

function createWatchers(config: Config, logger: Logger, bus: EventBus | undefined): NamespaceWatcher[] {
  const Socket = loadNativeSocket();
  const include = anchoredRegex(config.interfaces.include);
  const exclude = config.interfaces.exclude === '' ? undefined : anchoredRegex(config.interfaces.exclude);
  const specs: { label: string; path: string | undefined }[] = [{ label: '', path: undefined }];
  for (const ns of config.netns) specs.push({ label: ns, path: namespacePath(ns) });
  return specs.map(
    ({ label, path }) =>
      new NamespaceWatcher({
        label,
        path,
        receiveBufferBytes: config.socket.receiveBufferBytes,
        include,
        exclude,
        maxTracked: config.interfaces.maxTracked,
        vips: config.vips,
        logger,
        Socket,
        ...(bus ? { onEvent: (e) => bus.publish(e) } : {}),
      }),
  );
}

/** Starts every watcher; a namespace that cannot be opened is fatal at start-up. */
async function startWatchers(watchers: NamespaceWatcher[], logger: Logger): Promise<void> {
  const results = await Promise.allSettled(watchers.map((w) => w.start()));
  const failed = results.findIndex((r) => r.status === 'rejected');
  if (failed >= 0) {
    const err = (results[failed] as PromiseRejectedResult).reason as NodeJS.ErrnoException;
    const label = watchers[failed]?.model.netns || '(own namespace)';
    logger.error('cannot watch network namespace', { netns: label, code: err.code, error: err.message });
    for (const w of watchers) w.close();
    process.exit(1);
  }
}

/**
 * A socket opened inside a namespace keeps it (and its interfaces) alive: when a watched
 * namespace's name goes away, close its socket and drop its series.
 */
function watchNamespaceRemoval(watchers: NamespaceWatcher[], logger: Logger, onGone: (w: NamespaceWatcher) => void): FSWatcher | undefined {
  if (!watchers.some((w) => w.model.netns !== '')) return undefined;
  try {
    const fsw = watch('/run/netns', { persistent: false }, () => {
      for (const w of watchers) {
        if (!w.closed && w.namespaceGone()) {
          logger.warn('network namespace is gone; closing its socket', { netns: w.model.netns });
          w.close();
          onGone(w);
        }
      }
    });
    fsw.on('error', () => fsw.close());
    return fsw;
  } catch {
    return undefined;
  }
}

function onSignals(stop: () => Promise<void> | void): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      void Promise.resolve(stop()).finally(() => process.exit(0));
    });
  }
}

/** Writes each domain event to the exporter's log too, when `events.log_level` asks for it. */
function logEvents(config: Config, logger: Logger): ((e: DomainEvent) => void) | undefined {
  const level = config.events.logLevel;
  if (level === 'off') return undefined;
  return (e) => logger[level]('event', { line: formatEventLine(e) });
}

async function serve(config: Config, logger: Logger): Promise<void> {
  enableCollectOnRelease(trimMemory);
  // Every domain event goes to the ring (/api/v1/events, /events), and to tracing and the log when on.
  const bus = new EventBus();
  const ring = new EventRing(config.events.bufferSize);
  bus.subscribe((e) => ring.push(e));
  const toLog = logEvents(config, logger);
  if (toLog) bus.subscribe(toLog);
  const tracing = await startTracing({ config: config.tracing, logger, version: VERSION, env: process.env });
  if (tracing) bus.subscribe((e) => tracing.onEvent(e));
  const watchers = createWatchers(config, logger, bus);
  const eventRoutes = createEventRoutes({ ring, bus, maxStreamClients: config.events.streamMaxClients, logger });
  let sources = [...watchers];
  const registry = new Registry();
  // The event-loop delay monitor samples every 10 ms by default: a wake-up an idle exporter does not need.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  // prom-client names these gauges `_total`, which promtool (rightly) rejects.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  const collectorOptions = {
    addressInfo: config.addresses.info,
    addressInfoLinkLocal: config.addresses.infoLinkLocal,
    deletedGracePeriod: config.interfaces.deletedGracePeriod,
  };
  let ready = false;
  const readyWaiters: (() => void)[] = [];
  const server = new ExporterServer({
    listenAddress: config.web.listenAddress,
    telemetryPath: config.web.telemetryPath,
    version: VERSION,
    logger,
    isReady: () => ready,
    waitReady: (ms) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        readyWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
    scrapeReadyTimeoutMs: config.web.scrapeReadyTimeout * 1000,
    routes: eventRoutes.routes,
    links: [['/events', 'Recent events'], ['/api/v1/events', 'Recent events as JSON']],
    scrape: async () => {
      // The neighbour tables' entry counts are host-wide state with no notification: each scrape
      // asks for them again and shows what the previous request brought, so a socket backed up
      // by a burst (the reply queues behind it) never delays the scrape.
      for (const w of sources) void w.refreshNeighbourTables().catch(() => undefined);
      const onError = (collector: string, err: Error): void => logger.error('collector failed', { collector, error: err.stack ?? err.message });
      return {
        contentType: registry.contentType,
        body: [...renderNetlinkMetrics(sources, collectorOptions, VERSION, onError), Buffer.from(await registry.metrics())],
      };
    },
  });
  const address = await server.listen().catch((err: NodeJS.ErrnoException) => {
    logger.error('cannot listen', { address: config.web.listenAddress, code: err.code, error: err.message });
    process.exit(1);
  });
  logger.info('listening', { address, telemetry_path: config.web.telemetryPath, version: VERSION });
  const fsw = watchNamespaceRemoval(watchers, logger, (gone) => {
    sources = sources.filter((w) => w !== gone);
  });
  onSignals(async () => {
    logger.info('shutting down');
    fsw?.close();
    for (const w of watchers) w.close();
    bus.flush();
    eventRoutes.close();
    await server.close();
    await tracing?.shutdown();
  });
  await startWatchers(watchers, logger);
  ready = true;
  for (const wake of readyWaiters.splice(0)) wake();
}

async function events(config: Config, logger: Logger): Promise<void> {
  const bus = new EventBus();
  const format = config.log.format === 'json' ? formatEventJson : formatEventLine;
  bus.subscribe((e) => process.stdout.write(format(e) + '\n'));
  const watchers = createWatchers(config, logger, bus);
  const fsw = watchNamespaceRemoval(watchers, logger, () => undefined);
  onSignals(() => {
    fsw?.close();
    for (const w of watchers) w.close();
    bus.flush();
  });
  await startWatchers(watchers, logger);
  logger.info('watching', { namespaces: watchers.length });
}

function invocation(argv: string[]): Invocation {
  try {
    return parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`netlink-exporter: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`netlink-exporter: config error: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

function main(): void {
  const inv = invocation(process.argv.slice(2));
  if (inv.action === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (inv.action === 'version') {
    process.stdout.write(`netlink-exporter ${VERSION} (node ${process.versions.node})\n`);
    return;
  }
  const logger = createLogger(inv.config.log.level, inv.config.log.format);
  const run = inv.command === 'events' ? events : serve;
  run(inv.config, logger).catch((err: Error) => {
    logger.error('fatal', { error: err.stack ?? err.message });
    process.exit(1);
  });
}

main();
