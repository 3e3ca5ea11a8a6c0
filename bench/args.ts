// The benchmark's own small argument parser: --only LIST, --scale X, --otel, --help.

export const SCENARIOS = [
  'route',
  'address',
  'flap',
  'carrier',
  'fulltable',
  'interfaces',
  'latency',
  'fuzz',
  'replay',
  'node',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export const USAGE = `usage: npm run bench -- [--only LIST] [--scale X] [--otel]

  --only LIST   comma-separated scenarios to run, by name or number (default: all):
                  1 route       400,000 IPv4 route adds, then 400,000 deletes
                  2 address     20,000 IPv4 address adds, then 20,000 removes
                  3 flap        50,000 admin toggles over 100 veth pairs
                  4 carrier     50,000 admin toggles of the far ends (carrier-only changes)
                  5 fulltable   1,000,000 routes added and deleted, then with a nexthop object
                  6 interfaces  5,000 interfaces: start-up, scrape time, deletion
                  7 latency     200 link changes: change -> events-mode line, p50/p99
                  8 fuzz        codec property tests, FUZZ_RUNS=300000
                  9 replay      captured address and flap bursts replayed through the JavaScript alone
                  10 node       a Kubernetes node: 250 pod namespaces under --netns.all, 3 cycles of
                                create and delete: RSS, threads, series per pod, time to visible
  --scale X     multiply every size by X (e.g. 0.1 for a quick run; default 1)
  --otel        every exporter started sends all three OpenTelemetry signals (traces, logs,
                metrics every 10 s) over OTLP http/protobuf to a sink on 127.0.0.1 that this
                process runs (it answers every export at once): the same figures, signals on
                (OTEL_TRACES_EXPORTER, OTEL_LOGS_EXPORTER, OTEL_METRICS_EXPORTER=none in the
                environment turn one off, e.g. to measure OTLP metrics alone)
  -h, --help    this text

Needs root (network namespaces, SO_RCVBUFFORCE). Changes are made only inside private
namespaces nle-bench-<pid>-<n>, deleted on exit. The table goes to stdout, progress to stderr.
`;

export class UsageError extends Error {}

export interface BenchArgs {
  help: boolean;
  only: ScenarioName[];
  scale: number;
  otel: boolean;
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const out: BenchArgs = { help: false, only: [...SCENARIOS], scale: 1, otel: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '-h':
      case '--help':
        out.help = true;
        break;
      case '--otel':
        out.otel = true;
        break;
      case '--only': {
        const names = value()
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        if (names.length === 0) throw new UsageError('--only: empty list');
        const picked = new Set<ScenarioName>();
        for (const n of names) {
          const byNumber = /^[1-9]\d*$/.test(n) ? SCENARIOS[Number(n) - 1] : undefined;
          const name = byNumber ?? (SCENARIOS as readonly string[]).find((s) => s === n.toLowerCase());
          if (!name)
            throw new UsageError(
              `--only: unknown scenario ${JSON.stringify(n)} (one of ${SCENARIOS.join(', ')} or 1-${SCENARIOS.length})`,
            );
          picked.add(name as ScenarioName);
        }
        out.only = SCENARIOS.filter((s) => picked.has(s));
        break;
      }
      case '--scale': {
        const v = value();
        const x = Number(v);
        if (!/^\d*\.?\d+(e-?\d+)?$/i.test(v) || !Number.isFinite(x) || x <= 0 || x > 10) {
          throw new UsageError(`--scale: ${JSON.stringify(v)} is not a number in (0, 10]`);
        }
        out.scale = x;
        break;
      }
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return out;
}
