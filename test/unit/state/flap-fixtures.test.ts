// The flap rule on bytes the real kernel sent (test/fixtures, captured by capture.py): every
// fixture replayed in capture order through one model, a probe answered after each step as the
// kernel answers RTM_GETLINK after a deletion's RTM_DELLINK. No kernel or privileges needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeChunk } from '../../../src/netlink/decode';
import { NamespaceModel } from '../../../src/state/model';
import { MessageDispatch } from '../../../src/session/dispatch';
import { SessionCounters } from '../../../src/session/session-counters';
import type { LinkRecord } from '../../../src/state/links';
import { capturedChunks } from '../../helpers/fixtures';

interface Step {
  name: string;
  /** flaps and carrier_down_count by interface name after the step (deleted ones included). */
  after: Map<string, { flaps: number; downs: number | undefined }>;
}

function replay(): { steps: Step[]; model: NamespaceModel } {
  const probes: Array<() => void> = [];
  // No barrier (repairs at once), the link probe answered after each step.
  const model = new NamespaceModel({
    netns: 'fixtures',
    include: /^(?:.*)$/,
    exclude: undefined,
    maxTracked: 10_000,
    session: { barrier: (callback) => callback(), linkProbe: (_ifindex, callback) => probes.push(callback) },
  });
  model.onEvent = () => {};
  const session = new MessageDispatch(new SessionCounters(), model);
  const steps: Step[] = [];
  for (const { file, chunk } of capturedChunks()) {
    decodeChunk(chunk, session);
    for (const cb of probes.splice(0)) cb();
    const after = new Map<string, { flaps: number; downs: number | undefined }>();
    const seen = (l: LinkRecord): void => void after.set(l.name, { flaps: l.flaps, downs: l.carrierDownCount });
    model.deletedLinks.forEach(seen);
    model.links.forEach(seen);
    steps.push({ name: file.replace(/\.json$/, ''), after });
  }
  return { steps, model };
}

const { steps, model } = replay();

function delta(step: string, iface: string): { flaps: number; downs: number } {
  const i = steps.findIndex((s) => s.name.endsWith(step));
  assert.ok(i > 0, `fixture step ${step}`);
  const before = (steps[i - 1] as Step).after.get(iface);
  const after = (steps[i] as Step).after.get(iface);
  assert.ok(before && after, `${iface} known before and after ${step}`);
  return { flaps: after.flaps - before.flaps, downs: (after.downs ?? 0) - (before.downs ?? 0) };
}

test('a bridge losing its only port (carrier 0 with operstate UP, then operstate DOWN): one flap, as carrier_down_count', () => {
  assert.deepEqual(delta('bridge-loses-port', 'br9'), { flaps: 1, downs: 1 });
});

test('a tun brought up with nothing attached: no flap, though carrier_down_count moved', () => {
  const i = steps.findIndex((s) => s.name.endsWith('link-add-tun'));
  const tun = (steps[i] as Step).after.get('tun0');
  assert.ok(tun, 'tun0 known');
  assert.equal(tun.flaps, 0);
  assert.equal(tun.downs, 1, 'fixture: the kernel counted its creator detaching');
});

test('a burst of three admin toggles coalesced: flaps equal the carrier_down_count delta on both ends', () => {
  for (const iface of ['ve0', 've1']) {
    const d = delta('carrier-flap-burst', iface);
    assert.equal(d.flaps, d.downs, `${iface}: ${JSON.stringify(d)}`);
    assert.ok(d.downs >= 1, `fixture: ${iface} lost its carrier`);
  }
});

test('deleting a veth pair in service and a bridge: no flap, deletions counted', () => {
  assert.equal(delta('link-del-veth', 've0').flaps, 0);
  assert.equal(delta('link-del-veth', 've1').flaps, 0);
  assert.equal(delta('link-del-bridge', 'br0').flaps, 0);
  assert.ok(model.interfacesDeleted >= 3, `interfacesDeleted ${model.interfacesDeleted}`);
  for (const l of model.deletedLinks) assert.equal(l.pendingFlaps, 0, `${l.name} holds no flap`);
});
