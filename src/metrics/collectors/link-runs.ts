// The cache of per-link exposition text (link-text.ts), in runs of about 64 links, and the
// families the collectors write from it.

import type { NamespaceModel } from '../../state/model';
import type { LinkRecord } from '../../state/links';
import { released } from '../../runtime/memory';
import type { Family } from '../contract';
import type { SampleSink, TextSink } from '../sink';
import type { NamespaceSource } from '../source';
import { LINK_FAMILIES, linkSamples, renderLink } from './link-text';

/**
 * Consecutive links (about 64) whose lines are kept as one ready buffer per family: the cache
 * of exposition text. Writing a buffer per link and family (70,000 for 5,000 interfaces) made
 * the chunk handling, not the formatting, most of a scrape; with runs, a scrape writes about 80
 * buffers per family, and a change costs the formatting of the links that changed and a copy.
 */
interface Run {
  links: LinkRecord[];
  /** Each link's version when its lines were formatted. */
  versions: number[];
  /** The run's lines of each family, at the family's index in LinkText.bounds. */
  text: Buffer[];
  /** Bytes of link i's lines in text[at]: lengths[i * LINK_FAMILIES + at]. */
  lengths: Int32Array;
  /** The size of text, all families. */
  bytes: number;
}

const RUN_MAX = 256;

/**
 * A run ends after a link whose ifindex hashes to 0 (one in 64): where runs end depends on the
 * links themselves, not on positions, so adding or deleting an interface changes its own run
 * only, not every run after it. RUN_MAX bounds an unlucky stretch.
 */
function endsRun(link: LinkRecord, length: number): boolean {
  return Math.imul(link.ifindex, 0x9e3779b1) >>> 26 === 0 || length >= RUN_MAX;
}

function sameLinks(run: Run, links: readonly LinkRecord[]): boolean {
  return run.links.length === links.length && links.every((link, i) => run.links[i] === link);
}

/**
 * The run of `links`. When `old` holds the same links, only those whose version moved are
 * formatted; the stretches of unchanged links between them are copied from old's text whole.
 */
function joinRun(
  netns: string,
  links: LinkRecord[],
  old: Run | undefined,
  openMetrics: boolean,
  compact: boolean,
): Run {
  const base = old && sameLinks(old, links) ? old : undefined;
  const fresh = links.map((link, i) =>
    base?.versions[i] === link.version ? undefined : renderLink(netns, link, openMetrics, compact),
  );
  const lengths = new Int32Array(links.length * LINK_FAMILIES);
  const text: Buffer[] = [];
  let bytes = 0;
  for (let at = 0; at < LINK_FAMILIES; at++) {
    let size = 0;
    for (let i = 0; i < links.length; i++) {
      const t = fresh[i];
      const length = t
        ? (t.bounds[at + 1] as number) - (t.bounds[at] as number)
        : (base?.lengths[i * LINK_FAMILIES + at] as number);
      lengths[i * LINK_FAMILIES + at] = length;
      size += length;
    }
    const joined = Buffer.allocUnsafe(size);
    let offset = 0;
    // The stretch of base's text [from, to) not copied yet.
    let from = 0;
    let to = 0;
    for (let i = 0; i < links.length; i++) {
      const t = fresh[i];
      if (t) {
        if (to > from) offset += (base?.text[at] as Buffer).copy(joined, offset, from, to);
        offset += t.bytes.copy(joined, offset, t.bounds[at], t.bounds[at + 1]);
      }
      if (base) to += base.lengths[i * LINK_FAMILIES + at] as number;
      if (t) from = to;
    }
    if (to > from) (base?.text[at] as Buffer).copy(joined, offset, from, to);
    text.push(joined);
    bytes += size;
  }
  return { links, versions: links.map((link) => link.version), text, lengths, bytes };
}

function unchanged(run: Run, links: readonly LinkRecord[]): boolean {
  return sameLinks(run, links) && links.every((link, i) => run.versions[i] === link.version);
}

/**
 * The runs of the last scrape, per namespace, in the format it was in (OpenMetrics adds
 * `_created` lines): one generation of one format, so text is kept once. Prometheus keeps to
 * OpenMetrics; a scrape in the other format (a curl) formats every link anew, once.
 */
const runCache = new WeakMap<NamespaceModel, { openMetrics: boolean; runs: Run[] }>();

/**
 * The model's links with series (tracked live ones, then deleted ones still in their grace
 * period) as runs, reusing every run whose links and versions are unchanged.
 */
export function linkRuns(model: NamespaceModel, openMetrics: boolean, compact = false): Run[] {
  const cached = runCache.get(model);
  const previous = cached?.openMetrics === openMetrics ? cached.runs : [];
  // Looked up by first link only when the runs moved (a run was added, split or merged).
  let byFirst: Map<LinkRecord, Run> | undefined;
  const runs: Run[] = [];
  let members: LinkRecord[] = [];
  let kept = 0;
  const close = (): void => {
    const first = members[0] as LinkRecord;
    let run: Run | undefined = previous[runs.length];
    if (run?.links[0] !== first)
      run = (byFirst ??= new Map(previous.map((r) => [r.links[0] as LinkRecord, r]))).get(first);
    if (run && unchanged(run, members)) {
      runs.push(run);
      kept += run.bytes;
    } else runs.push(joinRun(model.netns, members, run, openMetrics, compact));
    members = [];
  };
  for (const link of model.links.values()) {
    if (!link.tracked) continue;
    members.push(link);
    if (endsRun(link, members.length)) close();
  }
  for (const link of model.deletedLinks) {
    members.push(link);
    if (endsRun(link, members.length)) close();
  }
  if (members.length > 0) close();
  runCache.set(model, { openMetrics, runs });
  // The runs replaced are garbage now: counted, so that a burst of changes gives its memory back.
  const dropped = (cached?.runs ?? []).reduce((sum, run) => sum + run.bytes, 0) - kept;
  if (dropped > 0) released(dropped);
  return runs;
}

/**
 * The links with series of each source, as a sink takes them: for a text sink, the runs of
 * cached text (linkRuns, in the sink's format); for any other, the sources, whose links'
 * samples are made afresh (linkSamples), in the same order, without touching the text cache.
 */
export type LinkSeries =
  | { readonly text: TextSink; readonly runs: readonly Run[][] }
  | { readonly text: undefined; readonly sources: readonly NamespaceSource[] };

export function linkSeries(w: SampleSink, sources: readonly NamespaceSource[]): LinkSeries {
  const text = w.asText;
  if (text) return { text, runs: sources.map((source) => linkRuns(source.model, text.openMetrics, source.compact)) };
  return { text: undefined, sources };
}

/** The links with series of a model, in the order of linkRuns: tracked live ones, then deleted ones in their grace period. */
function linksWithSeries(model: NamespaceModel): LinkRecord[] {
  const links: LinkRecord[] = [];
  for (const link of model.links.values()) if (link.tracked) links.push(link);
  for (const link of model.deletedLinks) links.push(link);
  return links;
}

export function familyOfLinks(w: SampleSink, def: Family, series: LinkSeries, at: number): void {
  w.family(def);
  if (series.text) {
    for (const ofSource of series.runs) for (const run of ofSource) series.text.raw(run.text[at] as Buffer);
    return;
  }
  for (const source of series.sources) {
    const netns = source.model.netns;
    const compact = source.compact ?? false;
    for (const link of linksWithSeries(source.model))
      linkSamples(netns, link, compact, at, (d, values, value, created) => w.sample(d, values, value, created));
  }
}
