// Address lifetimes (IFA_CACHEINFO) and the flag transitions the kernel re-announces an address
// for: the absolute deadlines the metrics export (netlink_address_valid_until_timestamp_seconds,
// ..._preferred_until_...), and which RTM_NEWADDR of an address already held is a `deprecated`
// or a `dadcomplete` event. Used by the addresses part of the model (address-set.ts).
//
// The kernel reports the seconds that remain at the time it fills the message
// (inet6_fill_ifaddr, inet_fill_ifaddr: lifetime - whole seconds since the last update), and
// re-announces an address only when something changes (deprecation, DAD, a renewal, `ip addr
// change`), so the deadline is kept as an absolute Unix time, computed when the message is read.

import { IFA_F_DADFAILED, IFA_F_DEPRECATED, IFA_F_TENTATIVE } from '../netlink/constants';
import type { AddressMessage } from '../netlink/types';

/** INFINITY_LIFE_TIME: the lifetime that never ends. */
export const INFINITE_LIFETIME = 0xffffffff;

/** No deadline: an infinite lifetime, or none reported. */
export const NO_DEADLINE = -1;

/**
 * A deadline recomputed from a later message moves by up to a second (the kernel truncates the
 * elapsed time to whole seconds, and the message waits a moment before it is read): within this
 * many seconds of the one held, the held one stays, so a re-announce does not move the series.
 */
const DEADLINE_TOLERANCE_S = 2;

/** What the model keeps of an address's lifetimes: Unix seconds, or NO_DEADLINE. */
export interface AddressDeadlines {
  validUntil: number;
  preferredUntil: number;
}

function deadline(remaining: number | undefined, now: number, held: number): number {
  if (remaining === undefined) return held; // not reported: keep what we knew
  if (remaining === INFINITE_LIFETIME) return NO_DEADLINE;
  const next = Math.floor(now) + remaining;
  return held !== NO_DEADLINE && Math.abs(next - held) <= DEADLINE_TOLERANCE_S ? held : next;
}

/** Updates `record`'s deadlines from a message's IFA_CACHEINFO, read at `now` (Unix seconds). */
export function applyLifetimes(record: AddressDeadlines, m: AddressMessage, now: number): void {
  record.validUntil = deadline(m.validLifetime, now, record.validUntil);
  record.preferredUntil = deadline(m.preferredLifetime, now, record.preferredUntil);
}

/**
 * Whether an RTM_NEWADDR for an address already held says duplicate address detection passed:
 * IFA_F_TENTATIVE cleared without IFA_F_DADFAILED (a failure is address-set.ts' `dadfailed`).
 */
export function dadCompleted(before: number, now: number): boolean {
  return (before & IFA_F_TENTATIVE) !== 0 && (now & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) === 0;
}

/** Whether it says the preferred lifetime ran out: IFA_F_DEPRECATED newly set. */
export function becameDeprecated(before: number, now: number): boolean {
  return (before & IFA_F_DEPRECATED) === 0 && (now & IFA_F_DEPRECATED) !== 0;
}

/** The whole seconds left until `until` at `now` (0 once past); undefined for NO_DEADLINE. */
export function secondsLeft(until: number, now: number): number | undefined {
  return until === NO_DEADLINE ? undefined : Math.max(0, Math.round(until - now));
}
