// /api/v1/events and its stream, against the real exporter watching a private namespace: a
// link flap and an address change come back as events with the schema of `events` mode; the
// `since` cursor returns only newer events and says when some fell out of the ring; filters;
// 400 on bad input; the stream (read with node:http) delivers new events and resumes from
// Last-Event-ID; the client cap answers 503; shutdown ends open streams. Then, in-process and
// without root: a stream client that stops reading is disconnected, never buffered for.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, poll, startExporter } from '../helpers/exporter';
import { EventBus } from '../../src/events/bus';
import { EventRing } from '../../src/events/ring';
import { createLogger } from '../../src/support/log';
import { createEventRoutes } from '../../src/http/event-routes';

type Json = Record<string, unknown>;

interface EventsPage {
  next: number;
  oldest: number;
  latest: number;
  more: boolean;
  dropped: boolean;
  events: Json[];
}

// ---------------------------------------------------------------------------------------------
// A Server-Sent Events reader on node:http

interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

class SseClient {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  body = '';
  ended = false;
  private buffer = '';

  private constructor(
    private readonly req: http.ClientRequest,
    readonly res: http.IncomingMessage,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.body += chunk;
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\n\n')) >= 0) {
        this.block(this.buffer.slice(0, end));
        this.buffer = this.buffer.slice(end + 2);
      }
    });
    res.on('end', () => (this.ended = true));
    res.on('close', () => (this.ended = true));
    res.on('error', () => (this.ended = true));
  }

  /** Opens `url`; resolves once the response headers are in (whatever the status). */
  static open(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { agent: false, headers: { accept: 'text/event-stream', ...headers } }, (res) =>
        resolve(new SseClient(req, res)),
      );
      req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url}: no response headers within 10 s`)));
      req.on('error', reject);
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  private block(text: string): void {
    const m: SseMessage = { id: undefined, event: 'message', data: '' };
    let hasData = false;
    for (const line of text.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') m.id = value;
      else if (field === 'event') m.event = value;
      else if (field === 'data') {
        m.data += (hasData ? '\n' : '') + value;
        hasData = true;
      }
    }
    if (hasData) this.messages.push(m);
  }

  /** Events (`message`s) parsed as JSON. */
  events(): Json[] {
    return this.messages.filter((m) => m.event === 'message').map((m) => JSON.parse(m.data) as Json);
  }

  async waitFor(what: string, predicate: (m: SseMessage) => boolean, timeoutMs = 10_000): Promise<SseMessage> {
    let hit: SseMessage | undefined;
    await poll(
      `stream: ${what}`,
      () => {
        hit = this.messages.find(predicate);
        if (hit) return true;
        if (this.ended) throw new Error(`stream ended; had ${this.messages.length} messages`);
        return `${this.messages.length} messages, none matches; last: ${this.messages.at(-1)?.data.slice(0, 200) ?? '(none)'}`;
      },
      { timeoutMs },
    );
    return hit!;
  }

  close(): void {
    this.req.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Against the real exporter

liveDescribe('/api/v1/events and the event stream', { timeout: 120_000 }, () => {
  const BUFFER = 64;
  const MAX_CLIENTS = 2;
  let ns: Netns;
  /** A second watched namespace, for the netns filter. */
  let ns2: Netns;
  let ex: Exporter | undefined;
  let dir: string;
  const streams: SseClient[] = [];

  async function get(query: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: Json }> {
    const res = await ex!.get(`/api/v1/events${query}`);
    let json: Json;
    try {
      json = JSON.parse(res.body) as Json;
    } catch {
      throw new Error(`GET /api/v1/events${query}: HTTP ${res.status}, not JSON: ${res.body.slice(0, 300)}`);
    }
    return { status: res.status, headers: res.headers, json };
  }

  async function page(query: string): Promise<EventsPage> {
    const r = await get(query);
    assert.equal(r.status, 200, `GET /api/v1/events${query}: ${JSON.stringify(r.json)}`);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.deepEqual(Object.keys(r.json).sort(), ['dropped', 'events', 'latest', 'more', 'next', 'oldest']);
    return r.json as unknown as EventsPage;
  }

  /** Our namespace's events after `since`, once `check` accepts them. */
  async function waitEvents(
    what: string,
    since: number,
    check: (events: Json[]) => true | string,
  ): Promise<EventsPage> {
    let last: EventsPage | undefined;
    await poll(what, async () => {
      last = await page(`?since=${since}&netns=${encodeURIComponent(ns.name)}`);
      return check(last.events);
    });
    return last!;
  }

  const has =
    (kind: string, action: string, iface: string, extra: (e: Json) => boolean = () => true) =>
    (e: Json) =>
      e.kind === kind && e.action === action && e.interface === iface && extra(e);

  async function openStream(query: string, headers: http.OutgoingHttpHeaders = {}): Promise<SseClient> {
    const s = await SseClient.open(`${ex!.baseUrl}/api/v1/events/stream${query}`, headers);
    streams.push(s);
    return s;
  }

  function closeStreams(): void {
    for (const s of streams.splice(0)) s.close();
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-evapi-'));
    const config = path.join(dir, 'config.yml');
    fs.writeFileSync(config, `events:\n  buffer_size: ${BUFFER}\n  stream_max_clients: ${MAX_CLIENTS}\n`);
    ns = createNetns('evapi');
    ns.addVeth('ea0', 'ea1', { up: true });
    ns.addVeth('eb0', 'eb1', { up: true });
    ns2 = createNetns('evapi2');
    ns2.addVeth('ec0', 'ec1', { up: true });
    ex = await startExporter({ netns: [ns.name, ns2.name], configFile: config });
  });

  after(async () => {
    closeStreams();
    await ex?.stop();
    ns?.delete();
    ns2?.delete();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  let afterFlap = 0;

  test('a flap and an address change come back as events, oldest first, with the schema of events mode', async () => {
    const start = (await page('')).latest;
    ns.ip('link', 'set', 'dev', 'ea0', 'down');
    ns.ip('link', 'set', 'dev', 'ea0', 'up');
    ns.ip('addr', 'add', '10.77.0.1/24', 'dev', 'ea0');
    const p = await waitEvents('flap down ea0 and address added 10.77.0.1/24 on ea0', start, (events) => {
      const flap = events.find(has('flap', 'down', 'ea0'));
      const addr = events.find(has('address', 'added', 'ea0', (e) => e.address === '10.77.0.1'));
      return flap && addr
        ? true
        : `flap ${flap ? 'seen' : 'missing'}, address ${addr ? 'seen' : 'missing'} in ${events.length} events`;
    });
    const ifindex = ns.ifindex('ea0');
    const down = p.events.find(has('link', 'changed', 'ea0', (e) => (e.state as Json).admin === 'down'))!;
    assert.ok(down, 'link changed ea0 admin up->down');
    assert.deepEqual(down.previous, { admin: 'up', oper: 'up', carrier: 'up' });
    const flap = p.events.find(has('flap', 'down', 'ea0'))!;
    assert.deepEqual(Object.keys(flap).sort(), [
      'action',
      'flaps',
      'ifindex',
      'interface',
      'kind',
      'netns',
      'oper',
      'seq',
      'time',
    ]);
    assert.equal(flap.netns, ns.name);
    assert.equal(flap.ifindex, ifindex);
    assert.equal(flap.flaps, 1);
    assert.match(String(flap.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const addr = p.events.find(has('address', 'added', 'ea0', (e) => e.address === '10.77.0.1'))!;
    assert.deepEqual(
      { family: addr.family, prefixLength: addr.prefixLength, scope: addr.scope, ifindex: addr.ifindex },
      { family: 'inet', prefixLength: 24, scope: 'global', ifindex },
    );
    assert.ok((addr.seq as number) > (flap.seq as number), 'the address came after the flap');
    const seqs = p.events.map((e) => e.seq as number);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'oldest first',
    );
    assert.ok(
      seqs.every((s) => s > start),
      'only events after the cursor',
    );
    assert.ok(p.next >= seqs.at(-1)!, `next ${p.next} >= the newest seq returned`);
    assert.equal(p.more, false);
    assert.equal(p.dropped, false);
    afterFlap = p.next;
  });

  test('since returns only newer events; next moves on; nothing new is an empty list', async () => {
    // (Address events are never delayed; carrier changes of the peer may still trickle in.)
    const idle = await page(`?since=${afterFlap}&kind=address&netns=${encodeURIComponent(ns.name)}`);
    assert.deepEqual(idle.events, []);
    assert.ok(idle.next >= afterFlap);
    ns.ip('addr', 'del', '10.77.0.1/24', 'dev', 'ea0');
    const p = await waitEvents('address removed 10.77.0.1 on ea0', afterFlap, (events) =>
      events.some(has('address', 'removed', 'ea0'))
        ? true
        : `${events.length} events: ${events.map((e) => `${e.kind} ${e.action}`).join(', ')}`,
    );
    assert.ok(p.events.every((e) => (e.seq as number) > afterFlap));
    assert.ok(!p.events.some(has('flap', 'down', 'ea0')), 'the flap before the cursor is not repeated');
    assert.ok(!p.events.some(has('address', 'added', 'ea0')), 'the address added before the cursor is not repeated');
    const again = await page(`?since=${p.next}&netns=${encodeURIComponent(ns.name)}`);
    assert.ok(!again.events.some(has('address', 'removed', 'ea0')), 'since=next does not repeat it either');
  });

  test('filters: kind (one or several), interface (exact), netns', async () => {
    const ours = `netns=${encodeURIComponent(ns.name)}`;
    const flaps = await page(`?kind=flap&${ours}`);
    assert.ok(flaps.events.length >= 1);
    assert.ok(flaps.events.every((e) => e.kind === 'flap' && e.netns === ns.name));
    const two = await page(`?kind=flap,address&${ours}`);
    assert.deepEqual([...new Set(two.events.map((e) => e.kind))].sort(), ['address', 'flap']);
    const ea0 = await page(`?interface=ea0&${ours}`);
    assert.ok(ea0.events.length >= 3);
    assert.ok(ea0.events.every((e) => e.interface === 'ea0'));
    // ea1 (the peer) flapped too: interface is an exact name, not a prefix.
    assert.deepEqual((await page(`?interface=ea&${ours}`)).events, []);
    assert.ok((await page(`?interface=ea1&${ours}`)).events.every((e) => e.interface === 'ea1'));
    const elsewhere = await page('?netns=nle-no-such-namespace');
    assert.deepEqual(elsewhere.events, []);
    assert.equal(
      elsewhere.next,
      elsewhere.latest,
      'a filter that matches nothing still moves the cursor to the newest seq',
    );
  });

  test('netns: several namespaces, comma-separated or repeated; "" is our own; the stream takes them too', async () => {
    const start = (await page('')).latest;
    const stream = await openStream(
      `?netns=${encodeURIComponent(ns2.name)}&netns=${encodeURIComponent(ns.name)}&kind=flap`,
    );
    for (const [n, dev] of [
      [ns, 'eb0'],
      [ns2, 'ec0'],
    ] as const) {
      n.ip('link', 'set', 'dev', dev, 'down');
      n.ip('link', 'set', 'dev', dev, 'up');
    }
    const both = `${encodeURIComponent(ns.name)},${encodeURIComponent(ns2.name)}`;
    let flaps: Json[] = [];
    await poll('a flap in each namespace', async () => {
      flaps = (await page(`?since=${start}&kind=flap&netns=${both}`)).events;
      return flaps.some(has('flap', 'down', 'eb0')) && flaps.some(has('flap', 'down', 'ec0'))
        ? true
        : JSON.stringify(flaps.map((e) => [e.netns, e.interface]));
    });
    assert.ok(
      flaps.every((e) => e.kind === 'flap' && (e.netns === ns.name || e.netns === ns2.name)),
      JSON.stringify(flaps),
    );
    assert.ok(flaps.some((e) => e.netns === ns2.name && e.interface === 'ec0'));
    assert.ok(flaps.some((e) => e.netns === ns.name && e.interface === 'eb0'));
    const repeated = await page(
      `?since=${start}&kind=flap&netns=${encodeURIComponent(ns.name)}&netns=${encodeURIComponent(ns2.name)}`,
    );
    // (The peers' flaps may still arrive between the two requests: compare up to the first answer.)
    const newest = Math.max(...flaps.map((e) => e.seq as number));
    assert.deepEqual(
      repeated.events.filter((e) => (e.seq as number) <= newest),
      flaps,
      'repeated = comma-separated',
    );
    const second = (await page(`?since=${start}&netns=${encodeURIComponent(ns2.name)}`)).events;
    assert.ok(second.some(has('flap', 'down', 'ec0')));
    assert.ok(
      second.every((e) => e.netns === ns2.name),
      'one namespace: only its events',
    );
    // Nothing happens in the root namespace here (tests never touch it): our own is empty of these.
    const own = (await page(`?since=${start}&netns=`)).events;
    assert.ok(
      own.every((e) => e.netns === ''),
      JSON.stringify(own),
    );
    const ownOrSecond = (await page(`?since=${start}&kind=flap&netns=,${encodeURIComponent(ns2.name)}`)).events;
    assert.ok(ownOrSecond.some(has('flap', 'down', 'ec0')));
    assert.ok(ownOrSecond.every((e) => e.netns === '' || e.netns === ns2.name));
    assert.deepEqual((await page(`?since=${start}&netns=${encodeURIComponent(ns.name.slice(0, -1))}`)).events, []);
    // The stream, with the namespaces repeated, sends the flaps of both and nothing else.
    const about = (iface: string) => (m: SseMessage) =>
      m.event === 'message' && (JSON.parse(m.data) as Json).interface === iface;
    const ec0 = await stream.waitFor('the flap of ec0 on the stream', about('ec0'));
    assert.equal((JSON.parse(ec0.data) as Json).netns, ns2.name);
    await stream.waitFor('the flap of eb0 on the stream', about('eb0'));
    for (const e of stream.events())
      assert.ok(e.kind === 'flap' && (e.netns === ns.name || e.netns === ns2.name), JSON.stringify(e));
    closeStreams();
  });

  test('limit pages from the cursor: more and next continue exactly where it stopped', async () => {
    const ours = `netns=${encodeURIComponent(ns.name)}`;
    const all = (await page(`?${ours}`)).events.map((e) => e.seq as number);
    assert.ok(all.length >= 4, `${all.length} events`);
    const got: number[] = [];
    let since = 0;
    for (let i = 0; i < all.length + 2; i++) {
      const p = await page(`?since=${since}&limit=2&${ours}`);
      got.push(...p.events.map((e) => e.seq as number));
      assert.ok(p.events.length <= 2);
      if (!p.more) break;
      assert.equal(p.next, p.events.at(-1)!.seq, 'with more, next is the last seq returned');
      since = p.next;
    }
    assert.deepEqual(got.slice(0, all.length), all);
  });

  for (const [query, param] of [
    ['?since=-1', 'since'],
    ['?since=soon', 'since'],
    ['?limit=0', 'limit'],
    [`?limit=${BUFFER + 1}`, 'limit'],
    ['?kind=flop', 'kind'],
    ['?interface=', 'interface'],
    ['?since=1&since=2', 'since'],
    ['?sincee=1', 'sincee'],
    ['?kind=flap&kind=link', 'kind'],
    ['?interface=sixteen-bytes-xx', 'interface'],
    [`?netns=${'n'.repeat(4097)}`, 'netns'],
    [`?netns=${Array.from({ length: 65 }, (_, i) => `ns${i}`).join(',')}`, 'netns'],
  ] as const) {
    test(`400 with a message naming the parameter: ${query}`, async () => {
      const r = await get(query);
      assert.equal(r.status, 400);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      assert.equal(typeof r.json.error, 'string');
      assert.ok((r.json.error as string).includes(param), String(r.json.error));
    });
  }

  test('the stream delivers a new event as it happens, with id = seq; a bad query is 400', async () => {
    const bad = await openStream('?kind=flop');
    assert.equal(bad.status, 400);
    bad.close();
    const s = await openStream(`?netns=${encodeURIComponent(ns.name)}&interface=eb0`);
    assert.equal(s.status, 200);
    assert.match(String(s.res.headers['content-type']), /^text\/event-stream/);
    await poll('the stream preface', () => (s.body.includes('retry:') ? true : JSON.stringify(s.body)));
    assert.equal(s.events().length, 0, 'without since or Last-Event-ID only new events come');
    ns.ip('link', 'set', 'dev', 'eb0', 'down');
    const m = await s.waitFor(
      'flap down eb0',
      (x) => x.event === 'message' && has('flap', 'down', 'eb0')(JSON.parse(x.data) as Json),
    );
    const e = JSON.parse(m.data) as Json;
    assert.equal(m.id, String(e.seq));
    assert.equal(e.netns, ns.name);
    assert.equal(e.ifindex, ns.ifindex('eb0'));
    // The same event as the JSON API has it.
    const api = await page(`?since=${(e.seq as number) - 1}&limit=1`);
    assert.deepEqual(api.events[0], e);
    ns.ip('link', 'set', 'dev', 'eb0', 'up');
    await s.waitFor(
      'link changed eb0 admin down->up',
      (x) =>
        x.event === 'message' &&
        has('link', 'changed', 'eb0', (ev) => (ev.state as Json).admin === 'up')(JSON.parse(x.data) as Json),
    );
    const ids = s.messages.filter((x) => x.event === 'message').map((x) => Number(x.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );
    closeStreams();
  });

  test('a reconnecting client resumes from Last-Event-ID (over the URL since), with filters', async () => {
    const ours = `netns=${encodeURIComponent(ns.name)}`;
    const flaps = (await page(`?kind=flap&${ours}`)).events;
    assert.ok(flaps.length >= 2);
    const from = (flaps.at(-2)!.seq as number) - 1;
    const s = await openStream(`?since=0&kind=flap&${ours}`, { 'last-event-id': String(from) });
    assert.equal(s.status, 200);
    await s.waitFor('the last flap', (x) => x.id === String(flaps.at(-1)!.seq));
    const got = s.events().slice(0, 2);
    assert.deepEqual(
      got.map((e) => e.seq),
      flaps.slice(-2).map((e) => e.seq),
    );
    assert.ok(got.every((e) => e.kind === 'flap'));
    closeStreams();
  });

  test(`at most ${MAX_CLIENTS} streams: the next one gets 503 with Retry-After, a freed slot is reused`, async () => {
    const held: SseClient[] = [];
    for (let i = 0; i < MAX_CLIENTS; i++) {
      const s = await openStream('');
      assert.equal(s.status, 200);
      held.push(s);
    }
    const over = await openStream('');
    assert.equal(over.status, 503);
    assert.match(String(over.res.headers['retry-after']), /^\d+$/);
    await poll('the 503 body', () => (over.ended ? true : 'not ended'));
    assert.match(over.body, /stream_max_clients/);
    // The metrics say so: the clients following now, the one turned away, nobody cut off.
    const m = await ex!.scrape();
    assert.equal(m.value('netlink_event_stream_clients', {}), MAX_CLIENTS, m.show('netlink_event_stream_clients'));
    assert.ok(
      (m.value('netlink_event_stream_refused_total', {}) ?? 0) >= 1,
      m.show('netlink_event_stream_refused_total'),
    );
    assert.equal(
      m.value('netlink_event_stream_disconnects_total', { reason: 'stalled' }),
      0,
      m.show('netlink_event_stream_disconnects_total'),
    );
    // The JSON API is not capped.
    assert.equal((await get('')).status, 200);
    held[0]!.close();
    await poll('a stream slot freed by a client that went away', async () => {
      const s = await openStream('');
      if (s.status === 200) return true;
      s.close();
      return `HTTP ${s.status}`;
    });
    closeStreams();
  });

  test('events that fell out of the ring: dropped in the API, a dropped notice on the stream', async () => {
    const before = await page('');
    // Each down/up pair is several events (link changed, flap, the peer's too): more than the ring.
    const lines: string[] = [];
    for (let i = 0; i < BUFFER; i++) lines.push('link set dev eb0 down', 'link set dev eb0 up');
    ns.batch(lines);
    let p: EventsPage | undefined;
    await poll(`more than ${BUFFER} events after seq ${before.latest}`, async () => {
      p = await page('?limit=1');
      return p.oldest > before.latest + 1 ? true : `oldest ${p.oldest}, latest ${p.latest}`;
    });
    const stale = await page(`?since=${before.latest}`);
    assert.equal(stale.dropped, true);
    assert.equal(stale.events[0]!.seq, stale.oldest, 'starts at the oldest held');
    assert.ok(stale.events.length <= BUFFER);
    // The carrier's late notifications may still move the ring between two requests: ask until
    // one answer is taken with the oldest seq the request before it saw.
    await poll('a cursor just before the oldest held lost nothing', async () => {
      const now = await page('?limit=1');
      const next = await page(`?since=${now.oldest - 1}`);
      return next.dropped === false ? true : `since=${now.oldest - 1} answered dropped (oldest now ${next.oldest})`;
    });
    const s = await openStream('', { 'last-event-id': String(before.latest) });
    const notice = await s.waitFor('event: dropped', (x) => x.event === 'dropped');
    assert.equal((JSON.parse(notice.data) as Json).since, before.latest);
    await s.waitFor('the replay of the held events', (x) => x.event === 'message');
    closeStreams();
  });

  test('a cursor from an earlier run (ahead of the newest seq) starts over, marked dropped', async () => {
    const now = await page('');
    const ahead = await page(`?since=${now.latest + 1000}`);
    assert.equal(ahead.dropped, true);
    assert.equal(ahead.events[0]?.seq, ahead.oldest);
    const s = await openStream('', { 'last-event-id': String(now.latest + 1000) });
    await s.waitFor('event: reset', (x) => x.event === 'reset');
    closeStreams();
  });

  test('/events takes the same filters by the same parser: the same 400, the active filters shown', async () => {
    for (const query of [
      '?kind=flop',
      '?kind=',
      '?interface=',
      '?netns=' + 'n'.repeat(4097),
      '?kind=flap&kind=link',
      '?since=1',
    ]) {
      const api = await get(query);
      const p = await ex!.get(`/events${query}`);
      assert.equal(p.status, 400, `/events${query}`);
      assert.match(String(p.headers['content-type']), /^application\/json/);
      const error = (JSON.parse(p.body) as Json).error as string;
      if (query === '?since=1') assert.match(error, /^unknown parameter "since": use kind, interface, netns$/);
      else assert.equal(error, api.json.error, `the API's own message for ${query}`);
    }
    const plain = await ex!.get('/events');
    assert.match(plain.body, /<p id="active" class="active" hidden><\/p>/);
    const odd = '<b>&"lab';
    const q = `?kind=flap,link&netns=${encodeURIComponent(ns.name)}&netns=${encodeURIComponent(odd)},&interface=ea0`;
    const p = await ex!.get(`/events${q}`);
    assert.equal(p.status, 200);
    assert.match(String(p.headers['content-security-policy']), /default-src 'none'/);
    const active = /<span id="active-filters">([^<]*)<\/span>/.exec(p.body);
    assert.ok(active, 'the active filters are on the page');
    assert.equal(
      active[1],
      `kind flap, link \u00b7 interface ea0 \u00b7 netns ${ns.name}, &#60;b&#62;&#38;&#34;lab, (the exporter&#39;s own)`,
    );
    assert.ok(!p.body.includes('<b>&'), 'a filter value never reaches the page as HTML');
    assert.equal((await ex!.get(`/events?netns=`)).status, 200);
  });

  test('the page and the landing page link', async () => {
    const p = await ex!.get('/events');
    assert.equal(p.status, 200);
    assert.match(String(p.headers['content-type']), /^text\/html/);
    assert.match(String(p.headers['content-security-policy']), /default-src 'none'/);
    assert.ok(!/src=["']?https?:/i.test(p.body) && !/href=["']?https?:/i.test(p.body), 'nothing from another origin');
    const landing = await ex!.get('/');
    assert.match(landing.body, /href="\/events"/);
  });

  test('shutdown ends open streams: the exporter exits on SIGTERM without being killed', async () => {
    const s = await openStream('');
    assert.equal(s.status, 200);
    const st = await ex!.stop(10_000);
    assert.equal(st.killed, false, 'exited by itself');
    await poll('the stream ended', () => (s.ended ? true : 'still open'));
  });
});

// ---------------------------------------------------------------------------------------------
// In-process, no root needed: a client that does not read

describe('event stream backpressure (in-process)', { timeout: 60_000 }, () => {
  test('a client that stops reading is disconnected once the ring overwrote what it was not sent; others keep up', async () => {
    const warnings: string[] = [];
    const logger = createLogger(
      'warn',
      'json',
      (line) => void warnings.push((JSON.parse(line) as { msg: string }).msg),
    );
    const ring = new EventRing(50);
    const bus = new EventBus();
    bus.subscribe((e) => ring.push(e));
    const routes = createEventRoutes({ ring, bus, maxStreamClients: 2, logger });
    const server = http.createServer((req, res) => {
      const route = routes.routes[new URL(req.url ?? '/', 'http://x').pathname];
      if (route) void route.handle(req, res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    // The stalled client: sends the request and never reads.
    const stalled = net.connect(port, '127.0.0.1');
    stalled.pause();
    stalled.write(`GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
    const reader = await SseClient.open(`http://127.0.0.1:${port}/api/v1/events/stream`);
    try {
      assert.equal(reader.status, 200);
      // Big events fill the loopback socket buffers quickly. After each few, wait for the reader
      // to have them all: only the stalled client falls behind.
      const name = 'x'.repeat(64 * 1024);
      let published = 0;
      await poll(
        'the stalled client disconnected',
        async () => {
          for (let i = 0; i < 10; i++) {
            bus.publish({
              netns: '',
              kind: 'vip',
              action: 'acquired',
              interface: 'lo',
              ifindex: 1,
              vip: '192.0.2.10',
              name,
              holders: ['lo'],
            });
            published++;
          }
          await poll('the reader has every event', () =>
            reader.messages.length === published ? true : `${reader.messages.length}/${published}`,
          );
          return warnings.some((w) => w.startsWith('event stream client too slow'))
            ? true
            : `${published} events published (${(published * name.length) >> 20} MiB)`;
        },
        { timeoutMs: 30_000, intervalMs: 1 },
      );
      assert.equal(
        routes.streamStats().tooSlow,
        1,
        'counted for netlink_event_stream_disconnects_total{reason="too_slow"}',
      );
      // The slot is free again: a new client is accepted (cap 2: the reader and this one).
      const next = await SseClient.open(`http://127.0.0.1:${port}/api/v1/events/stream`);
      assert.equal(next.status, 200);
      next.close();
      // The reader that keeps up got every event in order, none lost.
      assert.equal(reader.ended, false);
      const ids = reader.messages.map((m) => Number(m.id));
      assert.deepEqual(
        ids,
        Array.from({ length: published }, (_, i) => i + 1),
      );
    } finally {
      stalled.destroy();
      reader.close();
      routes.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('heartbeat comments keep an idle stream alive; close() ends every stream and later requests get 503', async () => {
    const logger = createLogger('error', 'json', () => undefined);
    const ring = new EventRing(10);
    const bus = new EventBus();
    bus.subscribe((e) => ring.push(e));
    const routes = createEventRoutes({ ring, bus, maxStreamClients: 4, logger, heartbeatMs: 50 });
    const server = http.createServer(
      (req, res) => void routes.routes[new URL(req.url ?? '/', 'http://x').pathname]!.handle(req, res),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const url = `http://127.0.0.1:${port}/api/v1/events/stream`;
    const a = await SseClient.open(url);
    const b = await SseClient.open(`${url}?since=0`);
    bus.publish({ netns: '', kind: 'flap', action: 'down', interface: 'eth0', ifindex: 2, flaps: 1, oper: 'down' });
    await b.waitFor('the flap', (m) => m.id === '1');
    await a.waitFor('the flap', (m) => m.id === '1');
    assert.deepEqual(
      a.events().map((e) => e.kind),
      ['flap'],
      'a stream without since starts with the next event',
    );
    await poll('two heartbeats', () =>
      a.comments.filter((c) => c === 'heartbeat').length >= 2 ? true : JSON.stringify(a.comments),
    );
    routes.close();
    await poll('both streams ended', () => (a.ended && b.ended ? true : `a ${a.ended}, b ${b.ended}`));
    const c = await SseClient.open(url);
    assert.equal(c.status, 503);
    c.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
