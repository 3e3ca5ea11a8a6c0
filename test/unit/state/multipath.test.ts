// MultipathSets: which devices the nexthops of IPv4 multipath routes use and which are dead,
// following the kernel's rules (see src/state/routes/multipath.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MultipathSets } from '../../../src/state/routes/multipath';

test('routes with the same devices share a set; dead ones from a dump make another', () => {
  const sets = new MultipathSets();
  const a = sets.acquire([2, 3], [false, false], 2);
  assert.equal(sets.acquire([2, 3], [false, false], 2), a);
  const deadOne = sets.acquire([2, 3], [true, false], 2);
  assert.notEqual(deadOne, a);
  assert.equal(sets.size, 2);
  // Only the first `count` entries of the scratch arrays count.
  assert.equal(sets.acquire([2, 3, 9], [false, false, true], 2), a);
});

test('a device down kills its nexthops; a set whose devices are all dead is returned; up revives', () => {
  const sets = new MultipathSets();
  const a = sets.acquire([2, 3], [false, false], 2);
  assert.deepEqual([...sets.deviceDown(2)], []);
  // A set changed by an event is not shared with a new route (whose nexthops are alive).
  const fresh = sets.acquire([2, 3], [false, false], 2);
  assert.notEqual(fresh, a);
  assert.deepEqual([...sets.deviceDown(3)], [a]);
  sets.deviceUp(2);
  assert.deepEqual([...sets.deviceDown(3)], []);
});

test('a device unregistered takes every set it is in; releases free the sets', () => {
  const sets = new MultipathSets();
  const a = sets.acquire([2, 3], [false, false], 2);
  const b = sets.acquire([3, 4], [false, false], 2);
  sets.acquire([4, 5], [false, false], 2);
  assert.deepEqual([...sets.deviceGone(3)].sort(), [a, b].sort());
  sets.release(a);
  sets.release(b);
  assert.equal(sets.size, 1);
  assert.deepEqual([...sets.deviceGone(3)], []);
  // Freed ids are reused.
  const c = sets.acquire([6, 7], [false, false], 2);
  assert.ok(c === a || c === b, `id ${c} reused`);
});
