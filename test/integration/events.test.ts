// `events` mode: a scripted sequence of changes in a private namespace (link add, up, address
// add, route add, route del, address del, a failed DAD, link down, rename, link del), asserted
// line by line, in the human format and as JSON lines (the schema of src/state/events.ts). Logs go to stderr,
// so every stdout line must be an event.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { EventsProcess, poll, startEvents } from '../helpers/exporter';

// ---------------------------------------------------------------------------------------------
// The two formats

interface HumanLine {
  time: string;
  netns: string;
  kind: string;
  action: string;
  iface: string;
  kv: Record<string, string>;
  bare: string[];
  line: string;
}

const HUMAN_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (?:netns=(\S+) )?([a-z_]+) ([a-z_]+) (\S+)(?: (.*))?$/;

function parseHuman(line: string): HumanLine | undefined {
  const m = HUMAN_RE.exec(line);
  if (!m) return undefined;
  const kv: Record<string, string> = {};
  const bare: string[] = [];
  for (const tok of (m[6] ?? '').split(' ').filter(Boolean)) {
    const eq = tok.indexOf('=');
    if (eq > 0) kv[tok.slice(0, eq)] = tok.slice(eq + 1);
    else bare.push(tok);
  }
  return { time: m[1]!, netns: m[2] ?? '', kind: m[3]!, action: m[4]!, iface: m[5]!, kv, bare, line };
}

type Json = Record<string, unknown>;

const BASE_KEYS = ['seq', 'time', 'netns', 'kind', 'action', 'interface', 'ifindex'];
const KIND_KEYS: Record<string, { required: string[]; optional: string[]; actions: string[] }> = {
  link: {
    required: ['state'],
    optional: ['previous', 'oldName', 'linkKind', 'mac'],
    actions: ['added', 'removed', 'changed', 'renamed'],
  },
  flap: { required: ['flaps', 'oper'], optional: [], actions: ['down'] },
  address: {
    required: ['family', 'address', 'prefixLength', 'scope', 'flags'],
    optional: ['validLifetime', 'preferredLifetime'],
    actions: ['added', 'removed', 'dadfailed'],
  },
  address_state: {
    required: ['family', 'address', 'prefixLength', 'scope', 'flags'],
    optional: ['validLifetime', 'preferredLifetime'],
    actions: ['dadcomplete', 'deprecated'],
  },
  route: {
    required: ['family', 'table', 'protocol', 'destination', 'type'],
    optional: ['gateway', 'nexthops', 'moreNexthops', 'metric', 'prefsrc', 'scope', 'mtu', 'nhid'],
    actions: ['added', 'removed', 'replaced', 'flushed'],
  },
  resync: { required: ['reason'], optional: [], actions: ['started', 'completed'] },
};

/** Checks one JSON event against the schema of src/state/events.ts; returns the problems. */
function schemaProblems(e: Json): string[] {
  const p: string[] = [];
  const type = (k: string, t: string) => {
    if (typeof e[k] !== t) p.push(`${k} should be a ${t}, is ${JSON.stringify(e[k])}`);
  };
  type('seq', 'number');
  type('time', 'string');
  type('netns', 'string');
  type('kind', 'string');
  type('action', 'string');
  type('interface', 'string');
  type('ifindex', 'number');
  if (
    typeof e.time === 'string' &&
    (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(e.time) || Number.isNaN(Date.parse(e.time)))
  ) {
    p.push(`time ${e.time} is not ISO 8601 UTC`);
  }
  const spec = KIND_KEYS[String(e.kind)];
  if (!spec) return [...p, `unknown kind ${JSON.stringify(e.kind)}`];
  if (!spec.actions.includes(String(e.action))) p.push(`kind ${e.kind}: unknown action ${JSON.stringify(e.action)}`);
  for (const k of spec.required) if (!(k in e)) p.push(`kind ${e.kind}: missing ${k}`);
  for (const k of Object.keys(e)) {
    if (!BASE_KEYS.includes(k) && !spec.required.includes(k) && !spec.optional.includes(k))
      p.push(`kind ${e.kind}: unexpected key ${k}`);
  }
  const linkState = (k: string) => {
    const s = e[k] as Json | undefined;
    if (s === undefined) return;
    if (!s || typeof s !== 'object') return p.push(`${k} should be an object`);
    if (s.admin !== 'up' && s.admin !== 'down') p.push(`${k}.admin = ${JSON.stringify(s.admin)}`);
    if (typeof s.oper !== 'string') p.push(`${k}.oper = ${JSON.stringify(s.oper)}`);
    if (s.carrier !== 'up' && s.carrier !== 'down') p.push(`${k}.carrier = ${JSON.stringify(s.carrier)}`);
    const extra = Object.keys(s).filter((x) => !['admin', 'oper', 'carrier'].includes(x));
    if (extra.length) p.push(`${k}: unexpected keys ${extra.join(',')}`);
    return;
  };
  if (e.kind === 'link') {
    linkState('state');
    linkState('previous');
    if (e.action === 'added' && 'previous' in e) p.push('link added: previous must be absent');
  }
  if (e.kind === 'flap') {
    if (!Number.isInteger(e.flaps) || (e.flaps as number) < 1) p.push(`flaps = ${JSON.stringify(e.flaps)}`);
    type('oper', 'string');
  }
  if (e.kind === 'address') {
    if (e.family !== 'inet' && e.family !== 'inet6') p.push(`family = ${JSON.stringify(e.family)}`);
    type('address', 'string');
    type('prefixLength', 'number');
    type('scope', 'string');
    if (!Array.isArray(e.flags) || !(e.flags as unknown[]).every((f) => typeof f === 'string'))
      p.push(`flags = ${JSON.stringify(e.flags)}`);
  }
  if (e.kind === 'route') {
    if (e.family !== 'inet' && e.family !== 'inet6') p.push(`family = ${JSON.stringify(e.family)}`);
    for (const k of ['table', 'protocol', 'destination', 'type']) type(k, 'string');
    if ('gateway' in e) type('gateway', 'string');
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// The scripted sequence, run against either format

interface Expect {
  what: string;
  /** Matches the human line (already parsed) or the JSON event of this step. */
  human: (h: HumanLine) => boolean;
  json: (e: Json) => boolean;
  /** Exact checks once found (throws). */
  checkHuman?: (h: HumanLine) => void;
  checkJson?: (e: Json) => void;
}

function runScript(format: 'human' | 'json'): void {
  let ns: Netns;
  let ev: EventsProcess | undefined;
  let lastSeq = 0;
  const all: Array<HumanLine | Json> = [];

  /** Waits for each expectation (in any order), consuming lines; every line is validated. */
  async function expectEvents(list: Expect[], timeoutMs = 10_000): Promise<void> {
    const left = [...list];
    while (left.length) {
      let hit: Expect | undefined;
      const line = await ev!.nextLine(
        left.map((x) => x.what).join(' + '),
        (l) => {
          const parsed = validate(l);
          hit = left.find((x) =>
            format === 'human'
              ? (parsed as HumanLine).netns === ns.name && x.human(parsed as HumanLine)
              : (parsed as Json).netns === ns.name && x.json(parsed as Json),
          );
          return hit !== undefined;
        },
        timeoutMs,
      );
      const parsed = format === 'human' ? parseHuman(line)! : (JSON.parse(line) as Json);
      if (format === 'human') hit!.checkHuman?.(parsed as HumanLine);
      else hit!.checkJson?.(parsed as Json);
      left.splice(left.indexOf(hit!), 1);
    }
  }

  /** Every stdout line is an event in the chosen format; JSON seq increases. */
  function validate(line: string): HumanLine | Json {
    if (format === 'human') {
      const h = parseHuman(line);
      assert.ok(h, `stdout line is not a human event line: ${JSON.stringify(line)}`);
      assert.ok(!Number.isNaN(Date.parse(h.time)), line);
      all.push(h);
      return h;
    }
    let e: Json;
    try {
      e = JSON.parse(line) as Json;
    } catch {
      throw new Error(`stdout line is not JSON: ${JSON.stringify(line)}`);
    }
    assert.deepEqual(schemaProblems(e), [], `schema of ${line}`);
    assert.ok((e.seq as number) > lastSeq, `seq ${e.seq} after ${lastSeq}: ${line}`);
    lastSeq = e.seq as number;
    all.push(e);
    return e;
  }

  const isH = (kind: string, action: string, iface: string) => (h: HumanLine) =>
    h.kind === kind && h.action === action && h.iface === iface;
  const isJ = (kind: string, action: string, iface: string) => (e: Json) =>
    e.kind === kind && e.action === action && e.interface === iface;
  /** "up" or "x->up": the value after a possible transition. */
  const now = (v: string | undefined) => v?.split('->').pop();

  async function kernelOper(iface: string, want: string): Promise<void> {
    await poll(`${iface} operstate ${want} in the kernel`, () => {
      const st = ns.link(iface).operstate;
      return st === want ? true : `operstate ${st}`;
    });
  }

  before(async () => {
    ns = createNetns(format === 'human' ? 'evh' : 'evj');
    ev = startEvents({ netns: [ns.name], ...(format === 'json' ? { logFormat: 'json' as const } : {}) });
    // Readiness without knowing the log lines: create probe links until one is reported
    // (the subscription precedes the dump, so from then on nothing is missed), then remove it.
    let probe = '';
    await poll(
      'events mode reporting a probe link',
      async () => {
        if (!ev!.running) throw new Error(`events mode exited (code ${ev!.child.exitCode}): ${ev!.stderr.tail(20)}`);
        if (probe) ns.ip('link', 'del', 'dev', probe);
        probe = `pr${Date.now() % 100000}`;
        ns.ip('link', 'add', 'name', probe, 'type', 'veth', 'peer', 'name', `${probe}p`);
        try {
          await ev!.nextLine(
            `link added ${probe}`,
            (l) => l.includes(probe) && /\blink\b/.test(l) && /\badded\b/.test(l),
            1_000,
          );
          return true;
        } catch {
          return `no event for ${probe} yet`;
        }
      },
      { timeoutMs: 20_000, intervalMs: 1 },
    );
    ns.ip('link', 'del', 'dev', probe);
    await ev!.nextLine(
      `link removed ${probe}`,
      (l) => l.includes(probe) && /\bremoved\b/.test(l) && /\blink\b/.test(l),
    );
  });

  after(async () => {
    await ev?.stop();
    ns?.delete();
  });

  test(`${format}: link added`, async () => {
    ns.ip('link', 'add', 'name', 'ev0', 'type', 'veth', 'peer', 'name', 'ev1');
    const idx = ns.ifindex('ev0');
    const mac = ns.link('ev0').address;
    await expectEvents([
      {
        what: 'link added ev0',
        human: isH('link', 'added', 'ev0'),
        json: isJ('link', 'added', 'ev0'),
        checkHuman: (h) => {
          assert.equal(h.kv.ifindex, String(idx), h.line);
          assert.equal(now(h.kv.admin), 'down', h.line);
        },
        checkJson: (e) => {
          assert.equal(e.ifindex, idx);
          assert.deepEqual((e.state as Json).admin, 'down');
          if ('mac' in e) assert.equal(e.mac, mac);
          if ('linkKind' in e) assert.equal(e.linkKind, 'veth');
        },
      },
      { what: 'link added ev1', human: isH('link', 'added', 'ev1'), json: isJ('link', 'added', 'ev1') },
    ]);
  });

  test(`${format}: link up (admin, oper and carrier up)`, async () => {
    const idx = ns.ifindex('ev0');
    ns.batch([
      'link set dev ev0 addrgenmode none',
      'link set dev ev1 addrgenmode none',
      'link set dev ev1 up',
      'link set dev ev0 up',
    ]);
    await kernelOper('ev0', 'UP');
    await expectEvents([
      {
        what: 'link changed ev0 to admin=up oper=up carrier=up',
        human: (h) =>
          isH('link', 'changed', 'ev0')(h) &&
          now(h.kv.admin) === 'up' &&
          now(h.kv.oper) === 'up' &&
          now(h.kv.carrier) === 'up',
        json: (e) => {
          const s = e.state as Json;
          return isJ('link', 'changed', 'ev0')(e) && s.admin === 'up' && s.oper === 'up' && s.carrier === 'up';
        },
        checkHuman: (h) => assert.equal(h.kv.ifindex, String(idx), h.line),
        checkJson: (e) => {
          assert.equal(e.ifindex, idx);
          assert.ok(e.previous && typeof e.previous === 'object', 'link changed carries previous');
        },
      },
    ]);
  });

  test(`${format}: addresses added (inet and inet6)`, async () => {
    const idx = ns.ifindex('ev0');
    ns.batch(['addr add 10.60.0.1/24 dev ev0', 'addr add 2001:db8:60::1/64 dev ev0 nodad']);
    await expectEvents([
      {
        what: 'address added ev0 2001:db8:60::1/64',
        human: (h) => isH('address', 'added', 'ev0')(h) && h.bare.includes('2001:db8:60::1/64'),
        json: (e) => isJ('address', 'added', 'ev0')(e) && e.address === '2001:db8:60::1',
        checkHuman: (h) => {
          assert.equal(h.kv.ifindex, String(idx), h.line);
          assert.ok(h.bare.includes('inet6'), h.line);
          assert.equal(h.kv.scope, 'global', h.line);
          assert.ok((h.kv.flags ?? '').split(',').includes('nodad'), h.line);
        },
        checkJson: (e) => {
          assert.equal(e.family, 'inet6');
          assert.equal(e.prefixLength, 64);
          assert.ok((e.flags as string[]).includes('nodad'), JSON.stringify(e));
        },
      },
      {
        what: 'address added ev0 10.60.0.1/24',
        human: (h) => isH('address', 'added', 'ev0')(h) && h.bare.includes('10.60.0.1/24'),
        json: (e) => isJ('address', 'added', 'ev0')(e) && e.address === '10.60.0.1',
        checkHuman: (h) => {
          assert.equal(h.kv.ifindex, String(idx), h.line);
          assert.ok(h.bare.includes('inet'), h.line);
          assert.equal(h.kv.scope, 'global', h.line);
          assert.ok((h.kv.flags ?? '').split(',').includes('permanent'), h.line);
        },
        checkJson: (e) => {
          assert.equal(e.ifindex, idx);
          assert.equal(e.family, 'inet');
          assert.equal(e.prefixLength, 24);
          assert.equal(e.scope, 'global');
          assert.ok((e.flags as string[]).includes('permanent'), JSON.stringify(e));
        },
      },
    ]);
  });

  const routeChecks = (idx: () => number): Pick<Expect, 'checkHuman' | 'checkJson'> => ({
    checkHuman: (h) => {
      assert.equal(h.kv.ifindex, String(idx()), h.line);
      assert.ok(h.bare.includes('inet'), h.line);
      assert.equal(h.kv.table, 'main', h.line);
      assert.equal(h.kv.protocol, 'static', h.line);
      assert.equal(h.kv.type, 'unicast', h.line);
      assert.match(h.line, / 10\.61\.0\.0\/24 via 10\.60\.0\.2(\s|$)/);
    },
    checkJson: (e) => {
      assert.equal(e.ifindex, idx());
      assert.equal(e.family, 'inet');
      assert.equal(e.table, 'main');
      assert.equal(e.protocol, 'static');
      assert.equal(e.type, 'unicast');
      assert.equal(e.gateway, '10.60.0.2');
    },
  });

  test(`${format}: route added`, async () => {
    ns.ip('route', 'add', '10.61.0.0/24', 'via', '10.60.0.2', 'proto', 'static');
    await expectEvents([
      {
        what: 'route added 10.61.0.0/24',
        human: (h) => h.kind === 'route' && h.action === 'added' && h.bare.includes('10.61.0.0/24'),
        json: (e) => e.kind === 'route' && e.action === 'added' && e.destination === '10.61.0.0/24',
        ...routeChecks(() => ns.ifindex('ev0')),
      },
    ]);
  });

  test(`${format}: route removed`, async () => {
    ns.ip('route', 'del', '10.61.0.0/24', 'via', '10.60.0.2', 'proto', 'static');
    await expectEvents([
      {
        what: 'route removed 10.61.0.0/24',
        human: (h) => h.kind === 'route' && h.action === 'removed' && h.bare.includes('10.61.0.0/24'),
        json: (e) => e.kind === 'route' && e.action === 'removed' && e.destination === '10.61.0.0/24',
        ...routeChecks(() => ns.ifindex('ev0')),
      },
    ]);
  });

  test(`${format}: a multipath route with a metric prints every nexthop`, async () => {
    const idx = ns.ifindex('ev0');
    ns.ip(
      'route',
      'add',
      '10.63.0.0/24',
      'proto',
      'static',
      'metric',
      '30',
      'nexthop',
      'via',
      '10.60.0.2',
      'dev',
      'ev0',
      'nexthop',
      'via',
      '10.60.0.3',
      'dev',
      'ev0',
      'weight',
      '2',
    );
    await expectEvents([
      {
        what: 'route added 10.63.0.0/24',
        human: (h) => h.kind === 'route' && h.action === 'added' && h.bare.includes('10.63.0.0/24'),
        json: (e) => e.kind === 'route' && e.action === 'added' && e.destination === '10.63.0.0/24',
        checkHuman: (h) => {
          assert.equal(h.iface, 'ev0', h.line);
          assert.equal(h.kv.ifindex, String(idx), h.line);
          assert.match(
            h.line,
            / 10\.63\.0\.0\/24 metric 30 nexthop via 10\.60\.0\.2 dev ev0 weight 1 nexthop via 10\.60\.0\.3 dev ev0 weight 2$/,
          );
        },
        checkJson: (e) => {
          assert.equal(e.ifindex, idx);
          assert.equal(e.metric, 30);
          assert.deepEqual(e.nexthops, [
            { gateway: '10.60.0.2', interface: 'ev0', ifindex: idx, weight: 1 },
            { gateway: '10.60.0.3', interface: 'ev0', ifindex: idx, weight: 2 },
          ]);
        },
      },
    ]);
  });

  test(`${format}: an address with lifetimes, then deprecated when its preferred lifetime runs out`, async () => {
    const idx = ns.ifindex('ev0');
    ns.ip('-6', 'addr', 'add', '2001:db8:63::1/64', 'dev', 'ev0', 'valid_lft', '100', 'preferred_lft', '3', 'nodad');
    await expectEvents([
      {
        what: 'address added ev0 2001:db8:63::1/64 with lifetimes',
        human: (h) => isH('address', 'added', 'ev0')(h) && h.bare.includes('2001:db8:63::1/64'),
        json: (e) => isJ('address', 'added', 'ev0')(e) && e.address === '2001:db8:63::1',
        checkHuman: (h) => {
          assert.match(h.kv.valid_lft ?? '', /^(99|100)s$/, h.line);
          assert.match(h.kv.preferred_lft ?? '', /^[23]s$/, h.line);
        },
        checkJson: (e) => {
          assert.ok(e.validLifetime === 100 || e.validLifetime === 99, JSON.stringify(e));
          assert.ok(e.preferredLifetime === 3 || e.preferredLifetime === 2, JSON.stringify(e));
        },
      },
    ]);
    await expectEvents([
      {
        what: 'address_state deprecated ev0 2001:db8:63::1/64',
        human: (h) => isH('address_state', 'deprecated', 'ev0')(h) && h.bare.includes('2001:db8:63::1/64'),
        json: (e) => isJ('address_state', 'deprecated', 'ev0')(e) && e.address === '2001:db8:63::1',
        checkHuman: (h) => {
          assert.equal(h.kv.ifindex, String(idx), h.line);
          assert.ok((h.kv.flags ?? '').split(',').includes('deprecated'), h.line);
          assert.equal(h.kv.preferred_lft, '0s', h.line);
        },
        checkJson: (e) => {
          assert.ok((e.flags as string[]).includes('deprecated'), JSON.stringify(e));
          assert.equal(e.preferredLifetime, 0);
        },
      },
    ]);
  });

  test(`${format}: address removed`, async () => {
    const idx = ns.ifindex('ev0');
    ns.ip('addr', 'del', '10.60.0.1/24', 'dev', 'ev0');
    await expectEvents([
      {
        what: 'address removed ev0 10.60.0.1/24',
        human: (h) => isH('address', 'removed', 'ev0')(h) && h.bare.includes('10.60.0.1/24'),
        json: (e) => isJ('address', 'removed', 'ev0')(e) && e.address === '10.60.0.1',
        checkHuman: (h) => assert.equal(h.kv.ifindex, String(idx), h.line),
        checkJson: (e) => {
          assert.equal(e.ifindex, idx);
          assert.equal(e.prefixLength, 24);
        },
      },
    ]);
  });

  test(`${format}: a failed DAD reads as one, and so does the removal of its address`, async () => {
    // ev1 holds the address; ev0's duplicate address detection for it gets ev1's answer.
    ns.ip('addr', 'add', '2001:db8:62::1/64', 'dev', 'ev1', 'nodad');
    ns.ip('addr', 'add', '2001:db8:62::1/64', 'dev', 'ev0');
    const dad = (flags: unknown): boolean => Array.isArray(flags) && flags.includes('dadfailed');
    await expectEvents(
      [
        {
          what: 'address dadfailed ev0 2001:db8:62::1/64',
          human: (h) => isH('address', 'dadfailed', 'ev0')(h) && h.bare.includes('2001:db8:62::1/64'),
          json: (e) => isJ('address', 'dadfailed', 'ev0')(e) && e.address === '2001:db8:62::1',
          checkHuman: (h) => {
            assert.equal(h.kv.dad, 'failed', h.line);
            assert.ok((h.kv.flags ?? '').split(',').includes('dadfailed'), h.line);
          },
          checkJson: (e) => assert.ok(dad(e.flags), JSON.stringify(e)),
        },
      ],
      15_000,
    );
    ns.ip('addr', 'del', '2001:db8:62::1/64', 'dev', 'ev0');
    ns.ip('addr', 'del', '2001:db8:62::1/64', 'dev', 'ev1');
    await expectEvents([
      {
        what: 'address removed ev0 2001:db8:62::1/64, marked dad=failed',
        human: (h) => isH('address', 'removed', 'ev0')(h) && h.bare.includes('2001:db8:62::1/64'),
        json: (e) => isJ('address', 'removed', 'ev0')(e) && e.address === '2001:db8:62::1',
        checkHuman: (h) => assert.equal(h.kv.dad, 'failed', h.line),
        checkJson: (e) => assert.ok(dad(e.flags), JSON.stringify(e)),
      },
      {
        what: 'address removed ev1 2001:db8:62::1/64, an ordinary removal',
        human: (h) => isH('address', 'removed', 'ev1')(h) && h.bare.includes('2001:db8:62::1/64'),
        json: (e) => isJ('address', 'removed', 'ev1')(e) && e.address === '2001:db8:62::1',
        checkHuman: (h) => assert.equal(h.kv.dad, undefined, h.line),
        checkJson: (e) => assert.ok(!dad(e.flags), JSON.stringify(e)),
      },
    ]);
  });

  test(`${format}: link down: link changed and one flap`, async () => {
    const idx = ns.ifindex('ev0');
    ns.ip('link', 'set', 'dev', 'ev0', 'down');
    await kernelOper('ev0', 'DOWN');
    await expectEvents([
      {
        what: 'link changed ev0 admin up->down',
        human: (h) => isH('link', 'changed', 'ev0')(h) && now(h.kv.admin) === 'down',
        json: (e) => isJ('link', 'changed', 'ev0')(e) && (e.state as Json).admin === 'down',
        checkHuman: (h) => {
          assert.equal(h.kv.ifindex, String(idx), h.line);
          assert.equal(h.kv.admin, 'up->down', h.line);
          assert.equal(h.kv.oper, 'up->down', h.line);
        },
        checkJson: (e) => {
          assert.equal((e.previous as Json).admin, 'up');
          assert.equal((e.previous as Json).oper, 'up');
          assert.equal((e.state as Json).oper, 'down');
        },
      },
      {
        what: 'flap down ev0',
        human: isH('flap', 'down', 'ev0'),
        json: isJ('flap', 'down', 'ev0'),
        checkHuman: (h) => {
          assert.equal(h.kv.ifindex, String(idx), h.line);
          assert.equal(h.kv.flaps, '1', h.line);
          assert.equal(h.kv.oper, 'down', h.line);
        },
        checkJson: (e) => {
          assert.equal(e.ifindex, idx);
          assert.equal(e.flaps, 1);
          assert.equal(e.oper, 'down');
        },
      },
    ]);
  });

  test(`${format}: link renamed`, async () => {
    const idx = ns.ifindex('ev0');
    ns.ip('link', 'set', 'dev', 'ev0', 'name', 'ev2');
    await expectEvents([
      {
        what: 'link renamed ev0 -> ev2',
        human: isH('link', 'renamed', 'ev2'),
        json: isJ('link', 'renamed', 'ev2'),
        checkHuman: (h) => {
          assert.equal(h.kv.ifindex, String(idx), h.line);
          assert.match(h.line, /\bev0\b/, `the old name is on the line: ${h.line}`);
        },
        checkJson: (e) => {
          assert.equal(e.ifindex, idx);
          assert.equal(e.oldName, 'ev0');
        },
      },
    ]);
  });

  test(`${format}: link removed`, async () => {
    const idx = ns.ifindex('ev2');
    ns.ip('link', 'del', 'dev', 'ev2');
    await expectEvents([
      {
        what: 'link removed ev2',
        human: isH('link', 'removed', 'ev2'),
        json: isJ('link', 'removed', 'ev2'),
        checkHuman: (h) => assert.equal(h.kv.ifindex, String(idx), h.line),
        checkJson: (e) => assert.equal(e.ifindex, idx),
      },
      { what: 'link removed ev1', human: isH('link', 'removed', 'ev1'), json: isJ('link', 'removed', 'ev1') },
    ]);
  });

  test(`${format}: stdout carried only events; SIGTERM ends it with exit 0`, async () => {
    for (const l of ev!.unread()) validate(l);
    const st = await ev!.stop();
    for (const l of ev!.unread()) validate(l);
    assert.deepEqual(
      { code: st.code, signal: st.signal, killed: st.killed },
      { code: 0, signal: null, killed: false },
      ev!.stderr.tail(20),
    );
    assert.ok(all.length > 0);
  });
}

liveDescribe('events (human lines)', { timeout: 90_000 }, () => runScript('human'));
liveDescribe('events (JSON lines)', { timeout: 90_000 }, () => runScript('json'));
