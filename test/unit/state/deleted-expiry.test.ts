// Deleted interfaces' series stay for the grace period and go after it, on the model's own timer:
// a scrape only reads (it once expired them while rendering).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderNetlinkMetrics } from '../../../src/metrics/render';
import { RTM_DELLINK } from '../../../src/netlink/constants';
import { NamespaceModel } from '../../../src/state/model';
import { poll } from '../../helpers/exporter';
import { namespaceSource, upLink } from '../../helpers/model-source';

const link = upLink;

function render(model: NamespaceModel): string {
  const source = namespaceSource(model);
  return Buffer.concat(
    renderNetlinkMetrics([source], { addressInfo: true, addressInfoLinkLocal: false }, '0.0.0'),
  ).toString();
}

test('a scrape does not expire deleted links, however long ago they went', () => {
  let clock = 1_000_000;
  const model = new NamespaceModel({
    netns: '',
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 10,
    now: () => clock,
  });
  model.link(link(5, 'dl0'));
  model.link(link(5, 'dl0', RTM_DELLINK));
  clock += 3600;
  assert.match(render(model), /netlink_interface_info\{netns="",interface="dl0",[^}]*operstate="deleted"\} 1/);
  assert.equal(model.deletedLinks.length, 1, 'the render changed nothing');
  model.expireDeleted(300);
  assert.equal(model.deletedLinks.length, 0);
  assert.doesNotMatch(render(model), /interface="dl0"/);
});

test('with a grace period the model drops a deleted link on its own once the period is over, not before', async () => {
  const grace = 0.3;
  const model = new NamespaceModel({
    netns: '',
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 10,
    deletedGracePeriod: grace,
  });
  try {
    model.link(link(5, 'dl0'));
    model.link(link(6, 'dl1'));
    const deleted = Date.now();
    model.link(link(5, 'dl0', RTM_DELLINK));
    assert.deepEqual(
      model.deletedLinks.map((l) => l.name),
      ['dl0'],
    );
    await poll(
      'dl0 to be expired',
      () => (model.deletedLinks.length === 0 ? true : `${model.deletedLinks.length} deleted links held`),
      { timeoutMs: 10_000, intervalMs: 10 },
    );
    const after = Date.now() - deleted;
    assert.ok(
      after >= grace * 1000 - 20,
      `expired ${after} ms after the deletion, before the ${grace * 1000} ms grace period`,
    );
    assert.deepEqual(
      [...model.links.values()].map((l) => l.name),
      ['dl1'],
    );
    // A shorter period from a reload applies at once to links already past it.
    model.link(link(6, 'dl1', RTM_DELLINK));
    assert.equal(model.deletedLinks.length, 1);
    model.setDeletedGracePeriod(0);
    assert.equal(model.deletedLinks.length, 0);
  } finally {
    model.close();
  }
});
