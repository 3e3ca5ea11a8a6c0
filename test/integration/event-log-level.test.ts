// events.log_level: the domain events also go to the exporter's own log, at the level chosen,
// and not at all by default.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Exporter, parseLogLine, poll, startExporter } from '../helpers/exporter';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';

liveDescribe('events.log_level', { timeout: 60_000 }, () => {
  let ns: Netns;
  let dir: string;
  const exporters: Exporter[] = [];

  before(() => {
    ns = createNetns('evlog');
    ns.batch(['link add name el0 type veth peer name el1', 'link set el0 up', 'link set el1 up']);
    dir = mkdtempSync(join(tmpdir(), 'nle-evlog-'));
  });

  after(async () => {
    for (const ex of exporters) await ex.stop();
    ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  const eventLines = (ex: Exporter) => ex.stderr.lines.map((l) => parseLogLine(l)).filter((kv) => kv?.msg === 'event');

  test('log_level: warn writes each domain event as a warn line; the default writes none', async () => {
    const file = join(dir, 'config.yml');
    writeFileSync(file, 'events:\n  log_level: warn\n');
    const loud = await startExporter({ netns: [ns.name], configFile: file, logFormat: 'json' });
    exporters.push(loud);
    const quiet = await startExporter({ netns: [ns.name], logFormat: 'json' });
    exporters.push(quiet);

    ns.ip('link', 'set', 'el0', 'down');
    await poll('the link event in the log', () =>
      eventLines(loud).some(
        (kv) =>
          kv?.level === 'warn' &&
          String(kv.line).includes(`netns=${ns.name} link changed el0`) &&
          String(kv.line).includes('admin=up->down'),
      )
        ? true
        : 'not yet',
    );
    // The quiet one saw the same change (its metrics say so) but logged no event.
    await quiet.waitForValue('netlink_interface_admin_up', { netns: ns.name, interface: 'el0' }, 0);
    assert.deepEqual(eventLines(quiet), []);
  });
});
