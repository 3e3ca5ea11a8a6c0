// Flags in the Prometheus exporter style. Flags override the config file, which overrides
// the embedded defaults. A bad flag is a UsageError: usage on stderr, exit 2.

import {
  checkListenAddress,
  checkTelemetryPath,
  Config,
  DEFAULT_CONFIG,
  LIST_BOUNDS,
  loadConfigFile,
} from './config/config';
import { LOG_FORMATS, LOG_LEVELS, LogFormat, LogLevel } from './support/log';

export class UsageError extends Error {
  override name = 'UsageError';
}

export type Command = 'serve' | 'events';

export interface Invocation {
  action: 'run' | 'help' | 'version';
  command: Command;
  config: Config;
  configFile?: string;
}

export const USAGE = `usage: netlink-exporter [events] [flags]

Event-driven Prometheus exporter for Linux rtnetlink: interface flaps, address churn and
route changes, exact from the first scrape.

Commands:
  (none)                       serve /metrics (the exporter)
  events                       print each network change on stdout as it happens; no HTTP

Flags:
  --web.listen-address=ADDR    address to serve on (default ":9932")
  --web.telemetry-path=PATH    path of the metrics (default "/metrics")
  --config.file=FILE           YAML config; the embedded default is config/default.yml
  --netns=NAME|PATH            also watch this network namespace (/run/netns/NAME or a path
                               such as /proc/PID/ns/net); repeatable
  --netns.all                  also watch every namespace named under /run/netns, following
                               them as they come and go
  --web.config.file=FILE       TLS, basic auth and headers (Prometheus exporter-toolkit format)
  --log.level=LEVEL            debug, info, warn or error (default "info")
  --log.format=FORMAT          logfmt or json (default "logfmt"); in events mode, json
                               prints the events as JSON lines
  -h, --help                   show this help
  --version                    show the version
`;

const VALUE_FLAGS = [
  'web.listen-address',
  'web.telemetry-path',
  'web.config.file',
  'config.file',
  'netns',
  'log.level',
  'log.format',
] as const;
const BOOLEAN_FLAGS = ['netns.all'] as const;
type BooleanFlag = (typeof BOOLEAN_FLAGS)[number];
type ValueFlag = (typeof VALUE_FLAGS)[number];

/** Parses argv (without node and the script) into what to do; throws UsageError or ConfigError. */
export function parseArgs(argv: readonly string[]): Invocation {
  let command: Command = 'serve';
  let action: Invocation['action'] = 'run';
  const values = new Map<ValueFlag, string[]>();
  const switches = new Map<BooleanFlag, boolean>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h' || arg === '--help') {
      action = 'help';
      continue;
    }
    if (arg === '--version') {
      if (action !== 'help') action = 'version';
      continue;
    }
    if (!arg.startsWith('--')) {
      if (arg === 'events' && i === 0) {
        command = 'events';
        continue;
      }
      throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    }
    const eq = arg.indexOf('=');
    const name = (eq >= 0 ? arg.slice(2, eq) : arg.slice(2)) as ValueFlag;
    if (BOOLEAN_FLAGS.includes(name as string as BooleanFlag)) {
      const text = eq >= 0 ? arg.slice(eq + 1) : 'true';
      if (text !== 'true' && text !== 'false') throw new UsageError(`flag --${name} takes no value (or =true, =false)`);
      switches.set(name as string as BooleanFlag, text === 'true');
      continue;
    }
    if (!VALUE_FLAGS.includes(name)) throw new UsageError(`unknown flag --${name}`);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`flag --${name} needs a value`);
    }
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  if (action !== 'run') return { action, command, config: structuredClone(DEFAULT_CONFIG) };

  for (const [name, list] of values) {
    if (name !== 'netns' && list.length > 1) throw new UsageError(`flag --${name} given more than once`);
  }
  const last = (name: ValueFlag): string | undefined => values.get(name)?.[0];
  const configFile = last('config.file');
  const config = configFile !== undefined ? loadConfigFile(configFile) : structuredClone(DEFAULT_CONFIG);

  const listen = last('web.listen-address');
  if (listen !== undefined) {
    const problem = checkListenAddress(listen);
    if (problem) throw new UsageError(`--web.listen-address: ${problem}`);
    config.web.listenAddress = listen;
  }
  const telemetryPath = last('web.telemetry-path');
  if (telemetryPath !== undefined) {
    // The same check as the YAML key web.telemetry_path.
    const problem = checkTelemetryPath(telemetryPath);
    if (problem) throw new UsageError(`--web.telemetry-path: ${problem}`);
    config.web.telemetryPath = telemetryPath;
  }
  const level = last('log.level');
  if (level !== undefined) {
    if (!LOG_LEVELS.includes(level as LogLevel))
      throw new UsageError(`--log.level must be one of ${LOG_LEVELS.join(', ')}`);
    config.log.level = level as LogLevel;
  }
  const format = last('log.format');
  if (format !== undefined) {
    if (!LOG_FORMATS.includes(format as LogFormat))
      throw new UsageError(`--log.format must be one of ${LOG_FORMATS.join(', ')}`);
    config.log.format = format as LogFormat;
  }
  const webConfigFile = last('web.config.file');
  if (webConfigFile !== undefined) {
    if (webConfigFile === '') throw new UsageError('--web.config.file needs a file');
    config.web.configFile = webConfigFile;
  }
  const netnsAll = switches.get('netns.all');
  if (netnsAll !== undefined) config.netnsAll = netnsAll;
  for (const ns of values.get('netns') ?? []) {
    if (ns === '') throw new UsageError('--netns needs a name or a path');
    if (ns.length > 4096) throw new UsageError('--netns: a name or path is at most 4096 characters');
    if (!config.netns.includes(ns)) config.netns.push(ns);
  }
  if (config.netns.length > LIST_BOUNDS.netns)
    throw new UsageError(`--netns: at most ${LIST_BOUNDS.netns} namespaces with the config's netns list`);
  return { action, command, config, ...(configFile !== undefined ? { configFile } : {}) };
}
