// Nexthop objects (RTM_NEWNEXTHOP: an id with a device, or a group of other ids) as the kernel
// holds them, so that the IPv4 routes using one can be repaired when it goes silently. Part of
// the namespace's model: its routes (route-set.ts) feed it and flush the routes.

import type { NexthopMessage } from '../netlink/types';

export interface NexthopObject {
  oif: number;
  group: number[] | undefined;
}

export class NexthopObjects {
  readonly byId = new Map<number, NexthopObject>();

  set(m: NexthopMessage): void {
    this.byId.set(m.id, { oif: m.oif ?? 0, group: m.group });
  }

  /** The ids of the objects on a device. */
  on(ifindex: number): Set<number> {
    const ids = new Set<number>();
    for (const [id, nh] of this.byId) if (nh.oif === ifindex) ids.add(id);
    return ids;
  }

  /** Removes the objects and the groups they leave empty; `ids` gains the emptied groups (every id gone). */
  remove(ids: Set<number>): void {
    for (const id of ids) this.byId.delete(id);
    let emptied = true;
    while (emptied) {
      emptied = false;
      for (const [id, nh] of this.byId) {
        if (!nh.group) continue;
        const members = nh.group.filter((member) => !ids.has(member));
        if (members.length === nh.group.length) continue;
        nh.group = members;
        if (members.length === 0) {
          this.byId.delete(id);
          ids.add(id);
          emptied = true;
        }
      }
    }
  }
}
