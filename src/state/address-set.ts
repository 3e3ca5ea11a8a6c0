// The namespace's addresses by addressKey (addresses.ts): RTM_NEWADDR/DELADDR applied as real
// add/remove transitions, counted on their interface (or held for it when it is not known yet),
// IPv6 duplicate address detection failures, the address events, and the repair of the IPv4
// routes the kernel removes silently with an address. Part of the namespace's model (model.ts).

import { AF_INET, AF_INET6, IFA_F_DADFAILED, IFF_UP, RTM_DELADDR } from '../netlink/constants';
import { familyIndex, familyIndexOfName, FAMILY_INET } from '../netlink/family';
import { ipv4Word, scopeName } from '../netlink/format';
import type { AddressMessage } from '../netlink/types';
import type { MessageOrigin, SessionServices } from '../session/sink';
import { applyLifetimes, becameDeprecated, dadCompleted, secondsLeft } from './address-lifetimes';
import { addressFlagNames, addressKey, AddressRecord, newAddressRecord } from './addresses';
import { ADDRESS_ADDED, ADDRESS_REMOVED, LinkRecord } from './links';
import type { LinkSet } from './link-set';
import { isQuiet, type EventOutlet } from './outlet';
import type { RouteSet } from './route-set';
import type { VipSet } from './vip-set';

export class AddressSet {
  readonly records = new Map<string, AddressRecord>();

  /**
   * `session`: the barrier of the session that feeds the model (without one, repairs apply at
   * once); `vips`: told after each change of an address.
   */
  constructor(
    private readonly out: EventOutlet,
    private readonly links: LinkSet,
    private readonly routes: RouteSet,
    private readonly session: SessionServices | undefined,
    private readonly vips: VipSet,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  address(m: AddressMessage, origin: MessageOrigin): void {
    if ((m.family !== AF_INET && m.family !== AF_INET6) || m.address === undefined) return;
    const key = addressKey(m.ifindex, m.address, m.prefixLength);
    const known = this.records.get(key);
    const link = this.links.find(m.ifindex);
    const fam = familyIndex(m.family);
    if (m.type === RTM_DELADDR) {
      if (!known) return;
      this.remove(key, known, link);
      if (m.family === AF_INET) this.afterIPv4AddressRemoved(known);
      this.vips.changed(m.address, this.records);
      return;
    }
    const quiet = isQuiet(origin);
    if (known) {
      const dadFailed = (m.addressFlags & IFA_F_DADFAILED) !== 0 && (known.flags & IFA_F_DADFAILED) === 0;
      // IPv6 re-announces an address when DAD ends and when it goes deprecated (address-lifetimes.ts).
      const dadComplete = dadCompleted(known.flags, m.addressFlags);
      const deprecated = becameDeprecated(known.flags, m.addressFlags);
      known.flags = m.addressFlags;
      known.scope = m.scope;
      known.seen = true;
      applyLifetimes(known, m, this.now());
      if (dadFailed && !quiet) this.dadFailed(known, link);
      if (dadComplete && !quiet) this.emit('dadcomplete', known, link);
      if (deprecated && !quiet) this.emit('deprecated', known, link);
      this.vips.changed(m.address, this.records);
      return;
    }
    const record = newAddressRecord(m, m.address, this.now());
    this.records.set(key, record);
    const orphan = link ? undefined : this.links.orphan(m.ifindex)[fam];
    if (link) {
      link.addresses[fam]++;
      link.version++;
      // fib_sync_up: an IPv4 address on a device that is up revives its dead multipath nexthops.
      if (m.family === AF_INET && (link.ifFlags & IFF_UP) !== 0) this.routes.routes4.multipathDeviceUp(link.ifindex);
    } else (orphan as number[])[0]++;
    if (!quiet) {
      if (link) (link.addressChanges[fam] as number[])[ADDRESS_ADDED]++;
      else (orphan as number[])[1]++;
      this.emit('added', record, link);
      if ((record.flags & IFA_F_DADFAILED) !== 0) this.dadFailed(record, link);
    }
    this.vips.changed(m.address, this.records);
  }

  /** IPv6 duplicate address detection failed: another host on the link holds the address. */
  private dadFailed(record: AddressRecord, link: LinkRecord | undefined): void {
    if (link) {
      link.dadFailures++;
      link.version++;
    }
    this.emit('dadfailed', record, link);
  }

  private remove(key: string, record: AddressRecord, link: LinkRecord | undefined): void {
    this.records.delete(key);
    const fam = familyIndexOfName(record.family);
    if (link) {
      link.addresses[fam] = Math.max(0, link.addresses[fam] - 1);
      link.version++;
      (link.addressChanges[fam] as number[])[ADDRESS_REMOVED]++;
    } else {
      const orphan = this.links.orphanOf(record.ifindex)?.[fam];
      if (orphan) {
        orphan[0] = Math.max(0, (orphan[0] as number) - 1);
        (orphan[2] as number)++;
      }
    }
    this.emit('removed', record, link);
  }

  /**
   * When an IPv4 address goes, the kernel first sends RTM_DELADDR, then deletes the routes it
   * made for the address (local, broadcast, prefix) with notifications, and then, silently on
   * older kernels, the routes whose preferred source it was (unless the device still holds it),
   * and, with the device's last IPv4 address, all of the device's IPv4 routes. So the repair
   * waits for a barrier (a request answered after every notification already queued) and then
   * removes only what is still held.
   */
  private afterIPv4AddressRemoved(record: AddressRecord): void {
    const word = ipv4Word(record.address);
    const routes4 = this.routes.routes4;
    const othersOnDevice = (): boolean => (this.links.live.get(record.ifindex)?.addresses[FAMILY_INET] ?? 0) > 0;
    // Nothing can go silently when the device keeps an IPv4 address and no route but the
    // kernel's own (notified) ones prefers this source: no barrier, no repair. An address burst
    // then costs no request per removal.
    if (othersOnDevice() && !routes4.hasNonKernelPrefsrc(word)) return;
    const repair = (): void => {
      const stillHeld = this.holdsIPv4(record.ifindex, record.address);
      if (!stillHeld) routes4.removePrefsrc(word, this.routes.flushed);
      if (!othersOnDevice() && this.links.live.has(record.ifindex)) {
        routes4.removeDevice(record.ifindex, true, this.routes.flushed);
        routes4.multipathDeviceDown(record.ifindex, this.routes.flushed);
      }
    };
    if (this.session) this.session.barrier(repair);
    else repair();
  }

  /**
   * Whether the device still holds `address` with any prefix length (10.0.0.1/24 and
   * 10.0.0.1/32 may both be configured): 33 lookups, paid only by a repair, where a count per
   * address would cost every address change two more map operations.
   */
  private holdsIPv4(ifindex: number, address: string): boolean {
    for (let prefixLength = 0; prefixLength <= 32; prefixLength++) {
      if (this.records.has(addressKey(ifindex, address, prefixLength))) return true;
    }
    return false;
  }

  private emit(
    action: 'added' | 'removed' | 'dadfailed' | 'dadcomplete' | 'deprecated',
    record: AddressRecord,
    link: LinkRecord | undefined,
  ): void {
    if (!this.out.onEvent) return;
    const now = this.now();
    const valid = secondsLeft(record.validUntil, now);
    const preferred = secondsLeft(record.preferredUntil, now);
    this.out.onEvent({
      netns: this.out.netns,
      ...(action === 'dadcomplete' || action === 'deprecated'
        ? { kind: 'address_state' as const, action }
        : { kind: 'address' as const, action }),
      interface: link?.name ?? `if${record.ifindex}`,
      ifindex: record.ifindex,
      family: record.family,
      address: record.address,
      prefixLength: record.prefixLength,
      scope: scopeName(record.scope),
      flags: addressFlagNames(record.flags),
      ...(valid !== undefined ? { validLifetime: valid } : {}),
      ...(preferred !== undefined ? { preferredLifetime: preferred } : {}),
    });
  }

  /** Drops the addresses of interfaces that are gone (LinkSet.expireDeleted). */
  forget(gone: (ifindex: number) => boolean): void {
    for (const [key, address] of this.records) {
      if (!gone(address.ifindex)) continue;
      this.records.delete(key);
    }
  }

  /** Before a resync dump: every address is unseen until the dump lists it. */
  beginSweep(): void {
    for (const address of this.records.values()) address.seen = false;
  }

  /** After a complete resync dump: the addresses it did not list were removed while we were not listening. */
  sweep(): void {
    for (const [key, address] of [...this.records]) {
      if (!address.seen) this.remove(key, address, this.links.live.get(address.ifindex));
    }
  }
}
