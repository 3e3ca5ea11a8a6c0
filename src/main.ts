#!/usr/bin/env node
// netlink-exporter: the command line. Parses flags and config, starts one watcher per network
// namespace, then either serves /metrics or (in `events` mode) prints each change on stdout.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parseArgs, USAGE, UsageError, Invocation } from './cli';
import { Config, ConfigError, EventLogLevel } from './config/config';
import { EventBus } from './events/bus';
import { formatEventJson, formatEventLine } from './events/format';
import { createLogger, Logger } from './support/log';
import { collectorOptionsFrom, renderNetlinkMetrics } from './metrics/render';
import { DiscoveredTotals } from './metrics/discovered';
import { OPENMETRICS_CONTENT_TYPE, OPENMETRICS_EOF, textToOpenMetrics } from './metrics/openmetrics';
import { registerReloadMetrics } from './metrics/registry';
import { loadNativeSocket, NativeSocketConstructor, trimMemory } from './runtime/native';
import { ExporterServer, ServerOptions } from './http/server';
import { WebConfigError } from './http/web-config';
import { registerHttpMetrics } from './http/http-metrics';
import { changesNeedingRestart, onReload, onShutdown, ReloadStatus } from './runtime/lifecycle';
import { EventRing } from './events/ring';
import { startTracing } from './tracing';
import { createEventRoutes } from './http/event-routes';
import { registerEventStreamMetrics } from './http/event-stream-metrics';
import type { DomainEvent } from './state/events';
import { enableCollectOnRelease } from './runtime/memory';
import { NamespaceSet } from './session/namespaces';
import { compileNamePattern, NameMatcher } from './config/name-pattern';
import { NamespaceModel } from './state/model';
import { redactSecrets } from './support/redact';
import { NamespaceWatcher } from './session/watcher';
import { warmUp } from './warmup';

function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}

const VERSION = readVersion();

/** The interface filters of a config, compiled once (the config was validated, so they compile). */
const nameFilters = new WeakMap<Config['interfaces'], { include: NameMatcher; exclude: NameMatcher | undefined }>();
function interfaceFilters(c: Config): { include: NameMatcher; exclude: NameMatcher | undefined } {
  let filters = nameFilters.get(c.interfaces);
  if (!filters) {
    filters = {
      include: compileNamePattern(c.interfaces.include),
      exclude: c.interfaces.exclude === '' ? undefined : compileNamePattern(c.interfaces.exclude),
    };
    nameFilters.set(c.interfaces, filters);
  }
  return filters;
}

/**
 * One watched namespace as wired here: the session (socket, dumps, counters) feeding the model.
 * It is what the metrics read of the namespace (src/metrics/source.ts NamespaceSource) and what
 * the namespace set manages (src/session/namespaces.ts ManagedWatcher).
 */
type Watched = NamespaceWatcher<NamespaceModel>;

/**
 * Makes a namespace's watcher, and the model it feeds, from the config current at that moment.
 * The warm-up makes its throwaway watchers here too (with a stand-in socket, its own bus and a
 * silent logger), so V8 compiles exactly the code, callbacks included, that the real watchers
 * run. A namespace found only by --netns.all (not `configured`) gets compact series.
 */
function watcherFactory(
  config: () => Config,
  logger: Logger,
  bus: EventBus,
  Socket: NativeSocketConstructor,
): (label: string, path: string | undefined, configured?: boolean) => Watched {
  return (label, path, configured = true) => {
    const c = config();
    return new NamespaceWatcher({
      label,
      path,
      receiveBufferBytes: c.socket.receiveBufferBytes,
      logger,
      Socket,
      model: (session) =>
        new NamespaceModel({
          netns: label,
          ...interfaceFilters(c),
          maxTracked: c.interfaces.maxTracked,
          vips: c.vips,
          deletedGracePeriod: c.interfaces.deletedGracePeriod,
          session,
          onEvent: (e) => bus.publish(e),
          routeGate: bus.routeGate(label),
        }),
      compact: !configured,
    });
  };
}

/** The namespaces' manager; each watcher it opens is made from the config current at that moment. */
function createNamespaceSet(
  config: () => Config,
  logger: Logger,
  bus: EventBus,
  onChange: (sources: readonly Watched[]) => void,
): NamespaceSet<Watched> {
  return new NamespaceSet({ logger, onChange, createWatcher: watcherFactory(config, logger, bus, loadNativeSocket()) });
}

/**
 * The start-up warm-up (src/warmup): V8 compiles the hot paths on synthetic messages before the
 * first real burst. NETLINK_EXPORTER_WARMUP=0 skips it (for comparisons; see the README's
 * benchmark section).
 */
async function warmUpPipeline(config: Config, logger: Logger, bus: () => EventBus): Promise<void> {
  if (process.env.NETLINK_EXPORTER_WARMUP === '0') {
    logger.info('warm-up skipped (NETLINK_EXPORTER_WARMUP=0)');
    return;
  }
  const silent = createLogger('error', config.log.format, () => undefined);
  try {
    const report = await warmUp({
      bus,
      watcher: (label, Socket, b) => watcherFactory(() => config, silent, b, Socket)(label, undefined),
    });
    logger.info('warm-up done', { messages: report.messages, ms: Math.round(report.ms) });
  } catch (err) {
    // Only a speed-up: whatever goes wrong in it, the exporter starts as it would without it.
    logger.warn('warm-up failed; starting without it', { error: (err as Error).stack ?? (err as Error).message });
  }
}

/** The exporter's event bus: every domain event to the ring, and to the log when `events.log_level` says so. */
function exporterBus(ring: EventRing, logLevel: () => EventLogLevel, logger: Logger): EventBus {
  const bus = new EventBus();
  bus.subscribe((e) => ring.push(e));
  bus.subscribe(logEvents(logLevel, logger));
  return bus;
}

/**
 * Opens every namespace present (see src/session/namespaces.ts). Our own namespace failing is fatal
 * (netlink itself is unusable); another that cannot be watched is logged once with the reason
 * and the rest are watched.
 */
async function startNamespaces(namespaces: NamespaceSet<Watched>, config: Config, logger: Logger): Promise<void> {
  await namespaces.start(config.netns, config.netnsAll).catch((err: NodeJS.ErrnoException) => {
    logger.error('cannot watch our own network namespace', {
      code: err.code,
      syscall: err.syscall,
      error: err.message,
    });
    namespaces.close();
    process.exit(1);
  });
}

/**
 * SIGHUP: the config file and the flags again, as at start-up. A bad file keeps the running
 * config and says why; keys that only a restart can apply are named.
 */
function reloadConfig(current: Config, logger: Logger): Config | undefined {
  let next: Config;
  let file: string | undefined;
  try {
    ({ config: next, configFile: file } = parseArgs(process.argv.slice(2)));
  } catch (err) {
    logger.error('config not reloaded; keeping the previous one', { error: (err as Error).message });
    return undefined;
  }
  for (const key of changesNeedingRestart(current, next))
    logger.warn('config change takes effect at the next restart', { key });
  logger.setLevel(next.log.level);
  logger.info('config reloaded', { file: file ?? '(embedded default)' });
  return next;
}

/** Writes each domain event to the exporter's log too, at the level `events.log_level` names (live: a reload changes it). */
function logEvents(level: () => EventLogLevel, logger: Logger): (e: DomainEvent) => void {
  return (e) => {
    const at = level();
    if (at !== 'off') logger[at]('event', { line: formatEventLine(e) });
  };
}

/** The server, or exit 1 naming the key when the web config file is bad. */
function newServer(options: ServerOptions, logger: Logger): ExporterServer {
  try {
    return new ExporterServer(options);
  } catch (err) {
    if (!(err instanceof WebConfigError)) throw err;
    logger.error('bad web config', { error: err.message });
    process.exit(1);
  }
}

async function serve(initial: Config, logger: Logger): Promise<void> {
  let config = initial;
  enableCollectOnRelease(trimMemory);
  // Every domain event goes to the ring (/api/v1/events, /events), and to tracing and the log when on.
  const ring = new EventRing(config.events.bufferSize);
  const bus = exporterBus(ring, () => config.events.logLevel, logger);
  const tracing = await startTracing({
    config: config.tracing,
    opentelemetry: config.opentelemetry,
    logger,
    version: VERSION,
    env: process.env,
    // Only when the metrics signal is on: the producer (and the SDK types it loads) is imported
    // then. It reads what a scrape reads, at each export; everything it names below is declared
    // further down and read only then (the first export comes an interval after the start).
    metricProducers: async () => {
      const { createNetlinkMetricProducer } = await import('./metrics/otlp/producer');
      return [
        createNetlinkMetricProducer({
          sources: () => sources,
          options: () => ({
            ...collectorOptions,
            discovered,
            ...(tracing ? { tracing: tracing.stats, signals: tracing.signals } : {}),
          }),
          version: VERSION,
          registry: { getMetricsAsJSON: () => registry.getMetricsAsJSON() },
          onError: (collector, err) =>
            logger.error('collector failed (OTLP metrics)', { collector, error: err.stack ?? err.message }),
        }),
      ];
    },
  });
  if (tracing) bus.subscribe((e) => tracing.onEvent(e));
  let sources: readonly Watched[] = [];
  // The netns="*" sums of the namespaces found by --netns.all (src/metrics/discovered.ts).
  const discovered = new DiscoveredTotals();
  discovered.enabled = config.netnsAll;
  const namespaces = createNamespaceSet(
    () => config,
    logger,
    bus,
    (now) => {
      // A namespace that went away takes its open spans with it (outages would never end), and
      // leaves its counters to the netns="*" sums. A watcher replaced under the same label
      // (deleted, or re-created) counts as gone too.
      for (const gone of sources) {
        if (now.includes(gone)) continue;
        tracing?.namespaceGone(gone.model.netns);
        discovered.retire(gone);
      }
      sources = now;
    },
  );
  const eventRoutes = createEventRoutes({ ring, bus, maxStreamClients: config.events.streamMaxClients, logger });
  const registry = new Registry();
  // The event-loop delay monitor samples every 10 ms by default: a wake-up an idle exporter does not need.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  // prom-client names these gauges `_total`, which promtool (rightly) rejects.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
    registry.removeSingleMetric(name);
  const collectorOptions = collectorOptionsFrom(config);
  let ready = false;
  const readyWaiters: (() => void)[] = [];
  const reloads = new ReloadStatus();
  registerReloadMetrics(registry, reloads);
  registerEventStreamMetrics(registry, () => eventRoutes.streamStats());
  const server = newServer(
    {
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
      webConfigFile: config.web.configFile,
      maxConcurrentScrapes: config.web.maxConcurrentScrapes,
      maxQueuedScrapes: config.web.maxQueuedScrapes,
      headerTimeoutMs: config.web.headerTimeout * 1000,
      idleTimeoutMs: config.web.idleTimeout * 1000,
      onWebConfigReload: (ok) => reloads.record(ok),
      routes: eventRoutes.routes,
      links: [
        ['/events', 'Recent events'],
        ['/api/v1/events', 'Recent events as JSON'],
      ],
      scrape: async ({ openMetrics }) => {
        // The neighbour tables' entry counts are host-wide state with no notification: each scrape
        // asks for them again and shows what the previous request brought, so a socket backed up
        // by a burst (the reply queues behind it) never delays the scrape.
        // The tables are host-wide: one namespace's socket asks (our own, the first).
        void sources
          .find((w) => w.opened)
          ?.refreshNeighbourTables()
          .catch(() => undefined);
        const onError = (collector: string, err: Error): void =>
          logger.error('collector failed', { collector, error: err.stack ?? err.message });
        // OpenMetrics when the scraper asks for it (Prometheus does, and stores exemplars from it):
        // the flap and address-change counters then carry the trace id of the span that last moved them.
        const options = {
          ...collectorOptions,
          openMetrics,
          discovered,
          ...(tracing ? { tracing: tracing.stats, exemplars: tracing.exemplars, signals: tracing.signals } : {}),
        };
        const netlink = renderNetlinkMetrics(sources, options, VERSION, onError);
        const defaults = await registry.metrics();
        if (!openMetrics) return { contentType: registry.contentType, body: [...netlink, Buffer.from(defaults)] };
        return {
          contentType: OPENMETRICS_CONTENT_TYPE,
          body: [...netlink, Buffer.from(textToOpenMetrics(defaults, performance.timeOrigin / 1000) + OPENMETRICS_EOF)],
        };
      },
    },
    logger,
  );
  registerHttpMetrics(registry, () => server.stats());
  const address = await server.listen().catch((err: NodeJS.ErrnoException) => {
    logger.error('cannot listen', { address: config.web.listenAddress, code: err.code, error: err.message });
    process.exit(1);
  });
  logger.info('listening', { address, telemetry_path: config.web.telemetryPath, version: VERSION });
  onShutdown(logger, async () => {
    // Stop taking requests and let the scrapes in flight finish, then close the sockets.
    eventRoutes.close();
    await server.close();
    namespaces.close();
    bus.flush();
    await tracing?.shutdown();
  });
  onReload(
    () => {
      const next = reloadConfig(config, logger);
      if (!next) {
        reloads.record(false);
        return;
      }
      Object.assign(collectorOptions, collectorOptionsFrom(next));
      const { include, exclude } = interfaceFilters(next);
      for (const w of sources) {
        w.model.setSeriesFilter(include, exclude, next.interfaces.maxTracked);
        w.model.setVips(next.vips);
        w.model.setDeletedGracePeriod(next.interfaces.deletedGracePeriod);
      }
      config = next;
      discovered.enabled = next.netnsAll;
      void namespaces.setWanted(next.netns, next.netnsAll);
      const webOk = next.web.configFile === '' || server.reloadWebConfig();
      reloads.record(webOk);
    },
    (err) => {
      logger.error('config reload failed', { error: err.stack ?? err.message });
      reloads.record(false);
    },
  );
  // The warm-up's buses are wired as this one, with a ring of their own and no log.
  await warmUpPipeline(config, logger, () => exporterBus(new EventRing(64), () => 'off', logger));
  await startNamespaces(namespaces, config, logger);
  ready = true;
  for (const wake of readyWaiters.splice(0)) wake();
  // One render, thrown away, so the first scrape joins ready text like every later one instead
  // of formatting every interface (5,000 interfaces: about 180 ms, then 30). In OpenMetrics,
  // the format Prometheus asks for (the text of one format is kept).
  setImmediate(() => renderNetlinkMetrics(sources, { ...collectorOptions, openMetrics: true }, VERSION));
}

async function events(config: Config, logger: Logger): Promise<void> {
  const bus = new EventBus();
  const format = config.log.format === 'json' ? formatEventJson : formatEventLine;
  bus.subscribe((e) => process.stdout.write(format(e) + '\n'));
  const namespaces = createNamespaceSet(
    () => config,
    logger,
    bus,
    () => undefined,
  );
  onShutdown(logger, () => {
    namespaces.close();
    bus.flush();
  });
  await warmUpPipeline(config, logger, () => new EventBus());
  await startNamespaces(namespaces, config, logger);
  logger.info('watching', { namespaces: namespaces.openLabels.length });
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
      process.stderr.write(`netlink-exporter: config error: ${redactSecrets(err.message)}\n`);
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
