// The /events page's text for a bond event (src/http/events-page.ts), which no live test can
// make (the kernel here has no bond driver): the page's own script functions, cut from the page
// it serves, run in a VM context on the bond events of the schema.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runInNewContext } from 'node:vm';
import { EVENTS_PAGE_HTML } from '../../../src/http/events-page';

/** The page script's functions from `function dadFailed` to just before `function cell`. */
function pageDetails(): (e: object) => string {
  const script = EVENTS_PAGE_HTML.slice(EVENTS_PAGE_HTML.indexOf('<script>') + '<script>'.length);
  const from = script.indexOf('function dadFailed(');
  const to = script.indexOf('function cell(');
  assert.ok(from > 0 && to > from, 'the page script has dadFailed ... details ... cell');
  return runInNewContext(`${script.slice(from, to)}; details`) as (e: object) => string;
}

test('the /events page says a failover and a slave MII change in words', () => {
  const details = pageDetails();
  const base = { seq: 1, time: '2026-01-01T00:00:00Z', netns: '', kind: 'bond' };
  assert.equal(
    details({
      ...base,
      action: 'failover',
      interface: 'bond0',
      ifindex: 10,
      bond: 'bond0',
      previousActive: 'eth-a',
      active: 'eth-b',
    }),
    'active eth-a\u2192eth-b',
  );
  assert.equal(
    details({
      ...base,
      action: 'active_lost',
      interface: 'bond0',
      ifindex: 10,
      bond: 'bond0',
      previousActive: 'eth-b',
      active: '',
    }),
    'active eth-b\u2192none',
  );
  assert.equal(
    details({
      ...base,
      action: 'slave_mii_down',
      interface: 'eth-a',
      ifindex: 11,
      bond: 'bond0',
      state: 'backup',
      mii: 'down',
      previousMii: 'up',
      linkFailures: 1,
    }),
    'bond bond0 backup mii up\u2192down 1 link failures',
  );
});
