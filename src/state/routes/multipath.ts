// Which devices the nexthops of IPv4 multipath routes use, and which of those nexthops the
// kernel has marked dead, so that the routes it drops without a notification are dropped here
// too. The kernel's rules (fib_sync_down_dev, fib_sync_up in net/ipv4/fib_semantics.c),
// checked with `ip` in a namespace on kernel 6.18:
// - a device goes admin down (NETDEV_DOWN), or loses its last IPv4 address: its nexthops are
//   marked RTNH_F_DEAD; a route whose nexthops are then all dead is dropped, silently;
// - a device is unregistered (deleted, or moved to another namespace): every multipath route
//   with a nexthop on it is dropped whole, even if its other nexthops are alive;
// - a device comes admin up (NETDEV_UP), or gets an IPv4 address while up: its dead nexthops
//   are alive again;
// - carrier loss only flags nexthops `linkdown`: the route stays, even when all are linkdown.
// Routes share a set when they have the same devices and the same dead ones when added (a
// BGP table over two uplinks is one set), so a route costs one u32 in its record (the set id).

import { mix } from './hash-index';

interface NexthopSet {
  /** The distinct devices of the route's nexthops, ascending. */
  devices: number[];
  /** Those of `devices` whose nexthops are all dead. */
  dead: Set<number>;
  /** Routes that use this set. */
  refs: number;
  /** Its hash in `shared` while no event has changed it since it was made (-1: unshared). */
  hash: number;
}

export class MultipathSets {
  /** Sets by id; id 0 means "no set". */
  private readonly sets: (NexthopSet | undefined)[] = [undefined];
  private readonly freeIds: number[] = [];
  /**
   * Sets as made from a message, for new routes to share, by a hash of their devices and dead
   * ones (ids with that hash: collisions are told apart by comparing). A number key, so that a
   * BGP table's worth of multipath routes builds no string per route.
   */
  private readonly shared = new Map<number, number[]>();
  /** Ids of the sets that use each device. */
  private readonly byDevice = new Map<number, Set<number>>();

  /** Sets in use (for tests). */
  get size(): number {
    return this.sets.length - 1 - this.freeIds.length;
  }

  /**
   * A set with the first `count` of `devices` (distinct, ascending), those with `dead[i]`
   * already dead; one reference more to it. The arrays are the caller's scratch: copied when a
   * set is made.
   */
  acquire(devices: readonly number[], dead: readonly boolean[], count: number): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < count; i++) hash = mix(hash, ((devices[i] as number) << 1) | (dead[i] ? 1 : 0));
    const candidates = this.shared.get(hash);
    if (candidates) {
      for (const id of candidates) {
        const set = this.sets[id] as NexthopSet;
        if (this.matches(set, devices, dead, count)) {
          set.refs++;
          return id;
        }
      }
    }
    const id = this.freeIds.pop() ?? this.sets.length;
    const set: NexthopSet = { devices: devices.slice(0, count), dead: new Set(), refs: 1, hash };
    for (let i = 0; i < count; i++) if (dead[i]) set.dead.add(devices[i] as number);
    this.sets[id] = set;
    if (candidates) candidates.push(id);
    else this.shared.set(hash, [id]);
    for (const device of set.devices) {
      let ids = this.byDevice.get(device);
      if (!ids) this.byDevice.set(device, (ids = new Set()));
      ids.add(id);
    }
    return id;
  }

  private matches(set: NexthopSet, devices: readonly number[], dead: readonly boolean[], count: number): boolean {
    if (set.devices.length !== count) return false;
    for (let i = 0; i < count; i++) {
      const device = devices[i] as number;
      if (set.devices[i] !== device || set.dead.has(device) !== (dead[i] as boolean)) return false;
    }
    return true;
  }

  /** One reference less; the set goes with its last route. */
  release(id: number): void {
    const set = this.sets[id];
    if (!set || --set.refs > 0) return;
    this.unshare(id, set);
    for (const device of set.devices) {
      const ids = this.byDevice.get(device);
      ids?.delete(id);
      if (ids?.size === 0) this.byDevice.delete(device);
    }
    this.sets[id] = undefined;
    this.freeIds.push(id);
  }

  /** A set changed by an event is no longer what a message of a new route describes. */
  private unshare(id: number, set: NexthopSet): void {
    if (set.hash < 0) return;
    const ids = this.shared.get(set.hash);
    if (ids) {
      const at = ids.indexOf(id);
      if (at >= 0) ids.splice(at, 1);
      if (ids.length === 0) this.shared.delete(set.hash);
    }
    set.hash = -1;
  }

  /** NETDEV_DOWN, or its last IPv4 address gone: its nexthops die. Returns the sets now all dead (their routes go). */
  deviceDown(ifindex: number): Set<number> {
    const gone = new Set<number>();
    for (const id of this.byDevice.get(ifindex) ?? []) {
      const set = this.sets[id] as NexthopSet;
      if (!set.dead.has(ifindex)) {
        this.unshare(id, set);
        set.dead.add(ifindex);
      }
      if (set.dead.size === set.devices.length) gone.add(id);
    }
    return gone;
  }

  /** NETDEV_UNREGISTER: the sets with a nexthop on it (their routes go whole). */
  deviceGone(ifindex: number): Set<number> {
    return new Set(this.byDevice.get(ifindex) ?? []);
  }

  /** NETDEV_UP, or an IPv4 address added while up: its nexthops are alive again. */
  deviceUp(ifindex: number): void {
    for (const id of this.byDevice.get(ifindex) ?? []) {
      const set = this.sets[id] as NexthopSet;
      if (!set.dead.has(ifindex)) continue;
      this.unshare(id, set);
      set.dead.delete(ifindex);
    }
  }
}
