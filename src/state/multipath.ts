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

/** RTNH_F_DEAD in rtnh_flags. */
export const RTNH_F_DEAD = 1;

interface NexthopSet {
  /** The distinct devices of the route's nexthops. */
  devices: number[];
  /** Those of `devices` whose nexthops are all dead. */
  dead: Set<number>;
  /** Routes that use this set. */
  refs: number;
  /** Its key in `shared` while no event has changed it since it was made. */
  key: string | undefined;
}

export class MultipathSets {
  /** Sets by id; id 0 means "no set". */
  private readonly sets: (NexthopSet | undefined)[] = [undefined];
  private readonly freeIds: number[] = [];
  /** Sets as made from a message (devices and dead ones), for new routes to share. */
  private readonly shared = new Map<string, number>();
  /** Ids of the sets that use each device. */
  private readonly byDevice = new Map<number, Set<number>>();

  /** Sets in use (for tests). */
  get size(): number {
    return this.sets.length - 1 - this.freeIds.length;
  }

  /** A set with these devices, the `dead` ones already dead; one reference more to it. */
  acquire(devices: readonly number[], dead: readonly number[]): number {
    const key = `${devices.join(',')}|${dead.join(',')}`;
    const found = this.shared.get(key);
    if (found !== undefined) {
      (this.sets[found] as NexthopSet).refs++;
      return found;
    }
    const id = this.freeIds.pop() ?? this.sets.length;
    this.sets[id] = { devices: [...devices], dead: new Set(dead), refs: 1, key };
    this.shared.set(key, id);
    for (const device of devices) {
      let ids = this.byDevice.get(device);
      if (!ids) this.byDevice.set(device, (ids = new Set()));
      ids.add(id);
    }
    return id;
  }

  /** One reference less; the set goes with its last route. */
  release(id: number): void {
    const set = this.sets[id];
    if (!set || --set.refs > 0) return;
    if (set.key !== undefined) this.shared.delete(set.key);
    for (const device of set.devices) {
      const ids = this.byDevice.get(device);
      ids?.delete(id);
      if (ids?.size === 0) this.byDevice.delete(device);
    }
    this.sets[id] = undefined;
    this.freeIds.push(id);
  }

  /** A set changed by an event is no longer what a message of a new route describes. */
  private unshare(set: NexthopSet): void {
    if (set.key === undefined) return;
    this.shared.delete(set.key);
    set.key = undefined;
  }

  /** NETDEV_DOWN, or its last IPv4 address gone: its nexthops die. Returns the sets now all dead (their routes go). */
  deviceDown(ifindex: number): Set<number> {
    const gone = new Set<number>();
    for (const id of this.byDevice.get(ifindex) ?? []) {
      const set = this.sets[id] as NexthopSet;
      if (!set.dead.has(ifindex)) {
        this.unshare(set);
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
      this.unshare(set);
      set.dead.delete(ifindex);
    }
  }
}
