// netlink_vip_*: each watched virtual IP, where it is held and how often it moved.

import type { VipState } from '../../state/vips';
import { METRICS as M } from '../contract';
import type { SampleSink } from '../sink';
import type { NamespaceSource } from '../source';

export function vips(w: SampleSink, sources: readonly NamespaceSource[]): void {
  const each = (fn: (netns: string, vip: VipState) => void): void => {
    for (const source of sources) for (const vip of source.model.vips.vips) fn(source.model.netns, vip);
  };
  w.family(M.vipPresent);
  each((netns, vip) =>
    w.sample(M.vipPresent, [netns, vip.config.address, vip.config.name], vip.holders.length > 0 ? 1 : 0),
  );
  w.family(M.vipBindings);
  each((netns, vip) => w.sample(M.vipBindings, [netns, vip.config.address, vip.config.name], vip.holders.length));
  w.family(M.vipInterfaceInfo);
  each((netns, vip) => {
    for (const holder of vip.holders)
      w.sample(M.vipInterfaceInfo, [netns, vip.config.address, vip.config.name, holder], 1);
  });
  w.family(M.vipTransitions);
  each((netns, vip) => {
    w.sample(M.vipTransitions, [netns, vip.config.address, vip.config.name, 'acquired'], vip.acquired, vip.createdAt);
    w.sample(M.vipTransitions, [netns, vip.config.address, vip.config.name, 'released'], vip.released, vip.createdAt);
  });
  w.family(M.vipMacChanges);
  each((netns, vip) =>
    w.sample(M.vipMacChanges, [netns, vip.config.address, vip.config.name], vip.macChanges, vip.createdAt),
  );
}
