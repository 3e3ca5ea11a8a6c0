// The captured fixtures (test/fixtures/NN-*.json) replayed into one model with a fixed clock, and
// the session's stand-in numbers: the model test/unit/metrics/golden.test.ts renders the golden
// /metrics from, and that tests comparing another output of the same model with /metrics use.

import { DEFAULT_CONFIG, type VipConfig } from '../../src/config/config';
import { compileNamePattern } from '../../src/config/name-pattern';
import type { NamespaceSource } from '../../src/metrics/source';
import { AF_INET } from '../../src/netlink/constants';
import { decodeChunk } from '../../src/netlink/decode';
import { MessageDispatch } from '../../src/session/dispatch';
import { SessionCounters } from '../../src/session/session-counters';
import { NamespaceModel } from '../../src/state/model';
import { capturedChunks } from './fixtures';

/** 2026-01-01T00:00:00Z: the model's clock starts here and moves one second per fixture. */
export const FIXTURE_EPOCH = 1_767_225_600;

/** Two VIPs (the default config has none), so that the VIP families have samples. */
const VIPS: VipConfig[] = [
  { address: '10.9.0.1', family: AF_INET, name: 'held', ignoreInterfaces: [] },
  { address: '192.0.2.1', family: AF_INET, name: 'released', ignoreInterfaces: [] },
];

/** The session's numbers of the one namespace (no socket is open). */
const STAND_IN = {
  overruns: 0,
  foreignRefused: 0,
  resyncs: 0,
  lastResync: 0,
  receiveBufferBytes: 2 * DEFAULT_CONFIG.socket.receiveBufferBytes,
  queueDepth: 0,
  ready: true,
  opened: true,
};

/**
 * The fixtures replayed in capture order into one model, as a source the metrics read. Link
 * probes and barriers are answered after each step. Close `source.model` when done.
 */
export function replayFixtureSource(): NamespaceSource {
  let clock = FIXTURE_EPOCH;
  const c = DEFAULT_CONFIG;
  const answers: (() => void)[] = [];
  const model = new NamespaceModel({
    netns: '',
    include: compileNamePattern(c.interfaces.include),
    exclude: c.interfaces.exclude === '' ? undefined : compileNamePattern(c.interfaces.exclude),
    maxTracked: c.interfaces.maxTracked,
    vips: [...c.vips, ...VIPS],
    now: () => clock,
    session: {
      barrier: (callback) => answers.push(callback),
      linkProbe: (_ifindex, callback) => answers.push(callback),
    },
  });
  const counters = new SessionCounters(() => clock);
  const session = new MessageDispatch(counters, model);
  for (const { chunk } of capturedChunks()) {
    clock++;
    decodeChunk(chunk, session);
    while (answers.length > 0) (answers.shift() as () => void)();
  }
  return { model, counters, ...STAND_IN };
}
