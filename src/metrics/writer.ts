// Prometheus text exposition (0.0.4), written by hand for the netlink_* families: the state
// lives in plain structures and prom-client's per-series cost (about 4 us) would make a scrape of
// thousands of interfaces slow. HELP/TYPE once per family; samples of a family together.
// OpenMetrics 1.0 when asked (openmetrics.ts): the samples are the same lines; the HELP and TYPE
// lines differ (a counter family is named without `_total`), and there are exemplars, `# EOF`,
// and a counter's `_created` sample right after each of its `_total` samples.

import type { Family } from './contract';
import type { LabelValues, TextSink } from './sink';

export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** OpenMetrics escapes double quotes in HELP too. */
export function escapeOpenMetricsHelp(text: string): string {
  return escapeHelp(text).replace(/"/g, '\\"');
}

/** The family name OpenMetrics announces: a counter's without its `_total`. */
export function openMetricsFamilyName(def: Pick<Family, 'name' | 'type'>): string {
  return def.type === 'counter' && def.name.endsWith('_total') ? def.name.slice(0, -'_total'.length) : def.name;
}

/** The OpenMetrics `_created` sample name of a counter family (`x_total` -> `x_created`). */
export function createdName(def: Pick<Family, 'name' | 'type'>): string {
  return `${openMetricsFamilyName(def)}_created`;
}

/**
 * A `_created` value: seconds since the epoch, to the millisecond (Prometheus keeps created
 * timestamps in milliseconds).
 */
export function formatCreated(seconds: number): string {
  return (Math.round(seconds * 1000) / 1000).toFixed(3);
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/**
 * One sample as exposition text: its line and, in OpenMetrics (`openMetrics`), a counter's
 * `_created` line of the same label set when `created` is known.
 */
export function sampleText<L extends readonly string[]>(
  def: Family<L>,
  values: LabelValues<L>,
  value: number,
  created: number | undefined,
  openMetrics: boolean,
): string {
  let labels = '';
  if (def.labels.length > 0) {
    labels += '{';
    for (let i = 0; i < def.labels.length; i++) {
      if (i > 0) labels += ',';
      labels += `${def.labels[i]}="${escapeLabelValue(values[i] as string)}"`;
    }
    labels += '}';
  }
  let text = `${def.name}${labels} ${formatValue(value)}\n`;
  if (created !== undefined && openMetrics && def.type === 'counter')
    text += `${createdName(def)}${labels} ${formatCreated(created)}\n`;
  return text;
}

/**
 * Text pending in a writer is turned into bytes once it reaches this many characters: the
 * samples' strings then die young (a scavenge frees them) instead of living in a list until
 * the scrape ends, which promoted tens of thousands of small strings per scrape to the old
 * generation and made garbage collection most of a scrape with many uncached samples.
 */
const FLUSH_CHARS = 64 * 1024;

export class ExpositionWriter implements TextSink {
  /** Ready bytes (flushed text, the cached per-interface lines), in order. */
  private readonly parts: Buffer[] = [];
  /** Text written since the last part. */
  private pending = '';
  private readonly started = new Set<string>();

  /** `openMetrics`: HELP and TYPE lines as OpenMetrics 1.0 writes them. */
  constructor(readonly openMetrics = false) {}

  get asText(): this {
    return this;
  }

  /** Writes HELP and TYPE, once; families with no samples still announce themselves. */
  family(def: Family): this {
    if (this.started.has(def.name)) return this;
    this.started.add(def.name);
    if (this.openMetrics) {
      const name = openMetricsFamilyName(def);
      this.write(`# HELP ${name} ${escapeOpenMetricsHelp(def.help)}\n# TYPE ${name} ${def.type}\n`);
    } else {
      this.write(`# HELP ${def.name} ${escapeHelp(def.help)}\n# TYPE ${def.name} ${def.type}\n`);
    }
    return this;
  }

  /**
   * One sample. `created` (seconds since the epoch) is when a counter's label set was first
   * seen: in OpenMetrics it follows as the `_created` sample of the same label set, which
   * Prometheus's created-timestamp zero ingestion turns into a 0 at that time, so increase()
   * counts a label set's first burst. Ignored for gauges and in the Prometheus text format.
   */
  sample<L extends readonly string[]>(def: Family<L>, values: LabelValues<L>, value: number, created?: number): void {
    this.write(sampleText(def, values, value, created, this.openMetrics));
  }

  /** Appends samples already in exposition format (each line ending in a newline). */
  raw(lines: string | Buffer): void {
    if (lines.length === 0) return;
    if (typeof lines === 'string') {
      this.write(lines);
      return;
    }
    this.flush();
    this.parts.push(lines);
  }

  private write(text: string): void {
    this.pending += text;
    if (this.pending.length >= FLUSH_CHARS) this.flush();
  }

  private flush(): void {
    if (this.pending === '') return;
    this.parts.push(Buffer.from(this.pending));
    this.pending = '';
  }

  /** Appends the exposition to `chunks`: text as buffers of up to about 64 KiB, ready buffers as they are. */
  drainInto(chunks: Buffer[]): void {
    this.flush();
    for (const part of this.parts) chunks.push(part);
    this.parts.length = 0;
  }

  text(): string {
    const chunks: Buffer[] = [];
    this.drainInto(chunks);
    return Buffer.concat(chunks).toString();
  }
}
