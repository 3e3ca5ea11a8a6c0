// What the exporter can do with the privileges it was given, and what it says when it lacks one.
//
// Watching its own network namespace needs no privilege. Two things do:
//  - a receive buffer above net.core.rmem_max (SO_RCVBUFFORCE): CAP_NET_ADMIN. Without it the
//    exporter still runs, with the smaller buffer, and says once what the kernel granted and what
//    that costs;
//  - entering another network namespace (setns, for --netns): CAP_SYS_ADMIN, and for a
//    /proc/PID/ns/net path of another user's process also CAP_SYS_PTRACE (opening it is a
//    ptrace-mode access check). A namespace that cannot be entered is reported once, by name and
//    missing capability, and the others are watched anyway.

import { readFileSync } from 'node:fs';
import type { LogFields, Logger } from '../support/log';

export const CAP_NET_ADMIN = 12;
export const CAP_SYS_PTRACE = 19;
export const CAP_SYS_ADMIN = 21;

/** The effective capability set from /proc/self/status (`CapEff:` hex), or undefined when unreadable. */
export function effectiveCapabilities(status?: string): bigint | undefined {
  let text = status;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(text);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

/** Whether the effective set holds `cap`; undefined when that cannot be told. */
export function hasCapability(cap: number, caps: bigint | undefined = effectiveCapabilities()): boolean | undefined {
  return caps === undefined ? undefined : ((caps >> BigInt(cap)) & 1n) === 1n;
}

/** net.core.rmem_max: the ceiling of SO_RCVBUF without CAP_NET_ADMIN (one value for every namespace). */
export function readRmemMax(path = '/proc/sys/net/core/rmem_max'): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export interface ReceiveBufferGrant {
  /** socket.receive_buffer_bytes. */
  asked: number;
  /** getsockopt(SO_RCVBUF): what the kernel granted, already doubled for its bookkeeping. */
  granted: number;
  /** Whether SO_RCVBUFFORCE was permitted. */
  forced: boolean;
  /** net.core.rmem_max, when readable. */
  rmemMax: number | undefined;
}

export interface LogRecord {
  msg: string;
  fields: LogFields;
}

/**
 * The start-up warning for a receive buffer smaller than asked, or undefined when the kernel
 * granted it all (forced, or asked <= rmem_max: SO_RCVBUF alone sufficed). The kernel doubles
 * what it is given, so a full grant reads back as 2 x asked.
 */
export function receiveBufferShortfall(g: ReceiveBufferGrant): LogRecord | undefined {
  if (g.asked <= 0 || g.forced || g.granted >= 2 * g.asked) return undefined;
  const fraction = g.granted / (2 * g.asked);
  return {
    msg:
      'receive buffer capped by net.core.rmem_max: SO_RCVBUFFORCE needs CAP_NET_ADMIN, which this process lacks. ' +
      'A burst larger than the buffer (a full routing table loading, many links changing at once) overruns it: the lost notifications ' +
      'are counted in netlink_socket_overruns_total and repaired by a resync, after which gauges are exact again and change counters are a lower bound. ' +
      'Grant CAP_NET_ADMIN, or raise net.core.rmem_max to socket.receive_buffer_bytes',
    fields: {
      asked: g.asked,
      granted: g.granted,
      granted_share: `${(fraction * 100).toFixed(1)}%`,
      rmem_max: g.rmemMax,
      applies_to: 'every namespace socket',
    },
  };
}

let receiveBufferWarned = false;

/**
 * Logs the receive-buffer shortfall once per process: every namespace socket meets the same
 * ceiling (rmem_max is host-wide), and netlink_socket_receive_buffer_bytes shows each grant.
 */
export function warnReceiveBufferOnce(logger: Logger, grant: Omit<ReceiveBufferGrant, 'rmemMax'>): void {
  if (receiveBufferWarned) return;
  const record = receiveBufferShortfall({ ...grant, rmemMax: readRmemMax() });
  if (!record) return;
  receiveBufferWarned = true;
  logger.warn(record.msg, record.fields);
}

/** For tests: forget that the warning was given. */
export function resetReceiveBufferWarning(): void {
  receiveBufferWarned = false;
}

/**
 * The one error line for a namespace that cannot be watched: what failed, why (the missing
 * capability, when that is the reason) and what happens now. `err` is the addon's Node-shaped
 * error (`code`, `syscall`, `path`).
 */
export function namespaceOpenFailure(
  netns: string,
  err: NodeJS.ErrnoException,
  caps: bigint | undefined = effectiveCapabilities(),
): LogRecord {
  const fields: LogFields = { netns, code: err.code, syscall: err.syscall, error: err.message };
  const consequence = 'the other namespaces are watched; netlink_namespace_ready for this one stays 0';
  let reason: string;
  if (err.code === 'EPERM' && err.syscall === 'setns') {
    if (hasCapability(CAP_SYS_ADMIN, caps) === false) {
      reason = 'entering another network namespace (setns) needs CAP_SYS_ADMIN, which this process lacks';
      fields.missing_capability = 'CAP_SYS_ADMIN';
    } else {
      reason =
        'setns was refused although CAP_SYS_ADMIN is present: a seccomp filter forbids it (systemd RestrictNamespaces= must allow net) ' +
        'or the namespace belongs to a user namespace this process has no privilege in';
    }
  } else if (err.code === 'EACCES' && err.syscall === 'open') {
    reason =
      "the namespace file cannot be opened: a /proc/PID/ns/net path of another user's process needs CAP_SYS_PTRACE (or the same user)";
    if (hasCapability(CAP_SYS_PTRACE, caps) === false) fields.missing_capability = 'CAP_SYS_PTRACE';
  } else if (err.code === 'ENOENT' && err.syscall === 'open') {
    reason = 'no such network namespace: nothing at that path (a name is looked up under /run/netns)';
  } else {
    reason = 'its netlink socket failed at start-up';
  }
  return { msg: `cannot watch network namespace ${netns}: ${reason}; ${consequence}`, fields };
}
