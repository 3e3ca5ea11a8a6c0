// The live /events page in a real headless browser: Debian's chromium (/usr/bin/chromium, never
// a downloaded one) driven by playwright-core, against the real exporter watching a private
// namespace. The page loads the recent events, a link flap made afterwards appears as new rows
// without a reload, the kind and interface filters hide the rest, an interface name full of
// HTML characters shows as text, the page fits a 375 px wide phone screen, the status says when
// the exporter goes away, and no script or CSP error happens on the way. The API's filters in the
// page's address (kind, netns) select what the page loads and follows, and show at the top; a
// bad one is a 400. Times carry the date and the browser's UTC offset; a failed duplicate
// address detection reads as one. Screenshots go to test-artifacts/.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, poll, startExporter } from '../helpers/exporter';

const CHROMIUM = '/usr/bin/chromium';
/** dist/test/integration -> the repository's test-artifacts/ */
const ARTIFACTS = path.resolve(__dirname, '..', '..', '..', 'test-artifacts');
/** A legal interface name (no '/', ':' or white space, at most 15 bytes) that is also HTML. */
const ODD = `<b>x&"'`;

function browserProblem(): string | undefined {
  if (!fs.existsSync(CHROMIUM))
    return `${CHROMIUM} is missing: apt-get install -y chromium (npm test's pretest installs it as root)`;
  return undefined;
}

const missing = browserProblem();
if (missing && process.env.CI === 'true') {
  test('events page: browser prerequisite', () => {
    throw new Error(`${missing}; CI=true, where a skipped test is a failure`);
  });
}

interface Row {
  seq: number;
  kind: string;
  action: string;
  iface: string;
  hidden: boolean;
  cells: string[];
}

// Browser-side code is given as text (the project compiles without the DOM library).
const ROWS_JS = `[...document.querySelectorAll('#rows tr')].map((tr) => ({
  seq: Number(tr.getAttribute('data-seq')),
  kind: tr.getAttribute('data-kind') || '',
  action: tr.getAttribute('data-action') || '',
  iface: tr.getAttribute('data-interface') || '',
  hidden: tr.hidden || getComputedStyle(tr).display === 'none',
  cells: [...tr.querySelectorAll('td')].map((td) => td.textContent || ''),
}))`;

/**
 * Polls an expression in the page until it is true. Not page.waitForFunction: its polling
 * evaluates the predicate with eval inside the page, which the page's CSP (no unsafe-eval)
 * rightly refuses whenever the first check is not already true.
 */
async function waitInPage(page: Page, what: string, expression: string): Promise<void> {
  await poll(what, async () => ((await page.evaluate(expression)) === true ? true : 'not yet'), { timeoutMs: 10_000 });
}

async function rows(page: Page): Promise<Row[]> {
  return (await page.evaluate(ROWS_JS)) as Row[];
}

const suite = missing
  ? (name: string, opts: { timeout?: number }, fn: () => void) => describe(name, { ...opts, skip: missing }, fn)
  : liveDescribe;

suite('/events in headless chromium', { timeout: 180_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    ns = createNetns('evpage');
    ns.addVeth('pw0', 'pw1', { up: true });
    ex = await startExporter({ netns: [ns.name] });
    // Something in the list before the page opens.
    ns.ip('addr', 'add', '10.78.0.1/24', 'dev', 'pw0');
    await poll('address added on pw0 in /api/v1/events', async () => {
      const r = await ex!.get(`/api/v1/events?kind=address&interface=pw0&netns=${encodeURIComponent(ns.name)}`);
      return r.status === 200 && r.body.includes('10.78.0.1') ? true : `HTTP ${r.status} ${r.body.slice(0, 200)}`;
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // playwright-core adds --headless and a fresh temporary --user-data-dir itself.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
    });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await ex?.stop();
    ns?.delete();
  });

  test('the page loads the recent events and goes live', async () => {
    const res = await page.goto(`${ex!.baseUrl}/events`);
    assert.equal(res?.status(), 200);
    await page.waitForSelector('#status[data-state="live"]', { timeout: 10_000 });
    await page.waitForSelector('#rows tr[data-kind="address"][data-interface="pw0"]', { timeout: 10_000 });
    const row = (await rows(page)).find((r) => r.kind === 'address' && r.iface === 'pw0')!;
    assert.deepEqual(row.cells.slice(1, 5), [ns.name, 'address', 'added', 'pw0']);
    assert.match(row.cells[5]!, /10\.78\.0\.1\/24/);
  });

  test('a link flap appears as new rows on top, without a reload', async () => {
    await page.evaluate('window.stayed = true');
    const before = await rows(page);
    const newest = Math.max(0, ...before.map((r) => r.seq));
    ns.ip('link', 'set', 'dev', 'pw0', 'down');
    ns.ip('link', 'set', 'dev', 'pw0', 'up');
    await page.waitForSelector('#rows tr[data-kind="flap"][data-interface="pw0"]', { timeout: 10_000 });
    await waitInPage(
      page,
      'the link row of pw0 coming back up',
      `[...document.querySelectorAll('#rows tr[data-kind="link"][data-interface="pw0"]')].some((tr) => tr.textContent.includes('admin down\u2192up'))`,
    );
    assert.equal(await page.evaluate('window.stayed'), true, 'the page was not reloaded');
    const after = await rows(page);
    const flap = after.find((r) => r.kind === 'flap' && r.iface === 'pw0')!;
    assert.ok(flap.seq > newest, 'a new event');
    assert.deepEqual(flap.cells.slice(1, 5), [ns.name, 'flap', 'down', 'pw0']);
    assert.match(flap.cells[5]!, /flaps 1/);
    const seqs = after.map((r) => r.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => b - a),
      'newest on top',
    );
    assert.equal(new Set(seqs).size, seqs.length, 'no event twice');
    assert.ok(seqs.includes(before[0]!.seq), 'the earlier rows stay');
  });

  test('the kind and interface filters hide the other rows', async () => {
    await page.selectOption('#f-kind', 'flap');
    let shown = (await rows(page)).filter((r) => !r.hidden);
    assert.ok(shown.length >= 1);
    assert.ok(
      shown.every((r) => r.kind === 'flap'),
      JSON.stringify(shown),
    );
    assert.ok(
      (await rows(page)).some((r) => r.kind === 'address' && r.hidden),
      'the address row is hidden',
    );
    assert.match((await page.textContent('#count')) ?? '', /of \d+ events shown/);
    await page.fill('#f-interface', 'PW0');
    shown = (await rows(page)).filter((r) => !r.hidden);
    assert.ok(shown.length >= 1 && shown.every((r) => r.kind === 'flap' && r.iface === 'pw0'), JSON.stringify(shown));
    assert.match(page.url(), /#(.*&)?kind=flap/, 'the filters are in the address, to share');
    assert.equal(new URL(page.url()).search, '', "not in its query: that is the API's filters");
    // A new event that does not match arrives hidden.
    ns.ip('addr', 'add', '10.78.1.1/24', 'dev', 'pw0');
    await poll('the second address row', async () =>
      (await rows(page)).filter((r) => r.kind === 'address').length >= 2 ? true : 'not yet',
    );
    assert.ok((await rows(page)).filter((r) => r.kind === 'address').every((r) => r.hidden));
    await page.selectOption('#f-kind', '');
    await page.fill('#f-interface', '');
    assert.ok(
      (await rows(page)).every((r) => !r.hidden),
      'no filter, every row',
    );
  });

  test("times carry the date and the UTC offset, in the browser's time zone", async () => {
    const utc = (await rows(page)).find((r) => r.kind === 'address' && r.iface === 'pw0')!;
    const api = JSON.parse(
      (await ex!.get(`/api/v1/events?kind=address&interface=pw0&netns=${encodeURIComponent(ns.name)}`)).body,
    ) as {
      events: { seq: number; time: string }[];
    };
    const time = api.events.find((e) => e.seq === utc.seq)!.time;
    // This context's browser runs in UTC unless TZ says otherwise: compare as instants.
    assert.match(utc.cells[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$/);
    assert.equal(Date.parse(utc.cells[0]!), Date.parse(time));
    const context = await browser!.newContext({ timezoneId: 'Asia/Kolkata' });
    try {
      const india = await context.newPage();
      await india.goto(`${ex!.baseUrl}/events`);
      await india.waitForSelector(`#rows tr[data-seq="${utc.seq}"]`, { timeout: 10_000 });
      const row = (await rows(india)).find((r) => r.seq === utc.seq)!;
      assert.match(row.cells[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+05:30$/, row.cells[0]);
      assert.equal(Date.parse(row.cells[0]!), Date.parse(time), 'the same instant');
    } finally {
      await context.close();
    }
  });

  test('the API filters in the address: only those events are loaded and followed, and shown at the top', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const filtered = await context.newPage();
      const errors: string[] = [];
      filtered.on('pageerror', (err) => errors.push(err.message));
      const res = await filtered.goto(`${ex!.baseUrl}/events?kind=flap,link&netns=${encodeURIComponent(ns.name)}`);
      assert.equal(res?.status(), 200);
      await filtered.waitForSelector('#status[data-state="live"]', { timeout: 10_000 });
      await filtered.waitForSelector('#rows tr[data-kind="flap"][data-interface="pw0"]', { timeout: 10_000 });
      assert.equal(await filtered.textContent('#active-filters'), `kind flap, link \u00b7 netns ${ns.name}`);
      assert.equal(await filtered.isVisible('#active'), true);
      let got = await rows(filtered);
      assert.ok(got.length >= 2, JSON.stringify(got));
      assert.ok(
        got.every((r) => r.kind === 'flap' || r.kind === 'link'),
        'no address event was loaded',
      );
      // Live: an address change is not sent, a flap is.
      const newest = Math.max(...got.map((r) => r.seq));
      ns.ip('addr', 'add', '10.78.2.1/24', 'dev', 'pw0');
      ns.ip('link', 'set', 'dev', 'pw0', 'down');
      ns.ip('link', 'set', 'dev', 'pw0', 'up');
      await poll('the new flap on the filtered page', async () =>
        (await rows(filtered)).some((r) => r.kind === 'flap' && r.seq > newest) ? true : 'not yet',
      );
      // The unfiltered page has the address event, from before the flap: the filtered one never will.
      await page.waitForSelector('#rows tr[data-kind="address"]', { timeout: 10_000 });
      got = await rows(filtered);
      assert.ok(
        got.every((r) => r.kind === 'flap' || r.kind === 'link'),
        JSON.stringify(got.map((r) => r.kind)),
      );
      // Another namespace's filter: nothing of ours.
      await filtered.goto(`${ex!.baseUrl}/events?netns=nle-no-such-namespace`);
      await filtered.waitForSelector('#status[data-state="live"]', { timeout: 10_000 });
      assert.equal((await rows(filtered)).length, 0);
      assert.match((await filtered.textContent('#empty')) ?? '', /No event matches the filters/);
      assert.equal(await filtered.textContent('#active-filters'), 'netns nle-no-such-namespace');
      // No filter: no filters line.
      await filtered.goto(`${ex!.baseUrl}/events`);
      assert.equal(await filtered.isVisible('#active'), false);
      // A bad filter is the API's 400, with the API's message.
      const bad = await filtered.goto(`${ex!.baseUrl}/events?kind=flop`);
      assert.equal(bad?.status(), 400);
      assert.match(await bad!.text(), /"error":"kind: \\"flop\\" is not one of/);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('a failed duplicate address detection reads as one, not as an ordinary change', async () => {
    // pw1 holds the address already; pw0's DAD for it gets pw1's answer over the veth and fails.
    ns.ip('addr', 'add', '2001:db8:78::1/64', 'dev', 'pw1', 'nodad');
    ns.ip('addr', 'add', '2001:db8:78::1/64', 'dev', 'pw0');
    await page.waitForSelector('#rows tr[data-kind="address"][data-action="dadfailed"][data-interface="pw0"]', {
      timeout: 15_000,
    });
    const row = (await rows(page)).find((r) => r.action === 'dadfailed' && r.iface === 'pw0')!;
    assert.equal(row.cells[3], 'DAD failed');
    assert.match(row.cells[5]!, /^duplicate address: another host holds it; inet6 2001:db8:78::1\/64 /);
    const added = (await rows(page)).find(
      (r) =>
        r.kind === 'address' && r.action === 'added' && r.iface === 'pw1' && r.cells[5]!.includes('2001:db8:78::1'),
    )!;
    assert.equal(added.cells[3], 'added', 'an ordinary address reads as before');
    ns.ip('addr', 'del', '2001:db8:78::1/64', 'dev', 'pw0');
    await waitInPage(
      page,
      'the removal of the address whose DAD failed',
      `[...document.querySelectorAll('#rows tr[data-action="removed"][data-interface="pw0"]')].some((tr) => tr.textContent.includes('2001:db8:78::1'))`,
    );
    const removed = (await rows(page)).find(
      (r) => r.action === 'removed' && r.iface === 'pw0' && r.cells[5]!.includes('2001:db8:78::1'),
    )!;
    assert.equal(removed.cells[3], 'removed (DAD failed)');
  });

  test('an interface name made of HTML characters shows as text', async () => {
    ns.ip('link', 'add', 'name', ODD, 'type', 'veth', 'peer', 'name', 'pw2');
    await waitInPage(
      page,
      `a row for ${ODD}`,
      `[...document.querySelectorAll('#rows tr')].some((tr) => tr.getAttribute('data-interface') === ${JSON.stringify(ODD)})`,
    );
    const row = (await rows(page)).find((r) => r.iface === ODD)!;
    assert.equal(row.cells[4], ODD);
    assert.equal(await page.locator('#rows b').count(), 0, 'no element made from event data');
  });

  test('readable on a 375 px phone screen: no horizontal scrolling, rows become cards', async () => {
    await page.setViewportSize({ width: 375, height: 700 });
    const size = (await page.evaluate(`({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
      rowDisplay: getComputedStyle(document.querySelector('#rows tr')).display,
    })`)) as { scrollWidth: number; clientWidth: number; rowDisplay: string };
    assert.ok(
      size.scrollWidth <= size.clientWidth,
      `page ${size.scrollWidth} px wide in a ${size.clientWidth} px screen`,
    );
    assert.equal(size.rowDisplay, 'block');
    await page.screenshot({ path: path.join(ARTIFACTS, 'events-page.png'), fullPage: false, animations: 'disabled' });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({
      path: path.join(ARTIFACTS, 'events-page-wide.png'),
      fullPage: false,
      animations: 'disabled',
    });
    assert.ok(fs.statSync(path.join(ARTIFACTS, 'events-page.png')).size > 0);
  });

  test('no script error and no CSP violation', () => {
    assert.deepEqual(problems, []);
  });

  test('the status says when the exporter goes away', async () => {
    await ex!.stop();
    await page.waitForSelector('#status:not([data-state="live"])', { timeout: 10_000 });
    assert.match((await page.textContent('#status')) ?? '', /reconnecting|offline/);
  });
});
