// The netlink socket addon's JS surface (addon/netlink_socket.cc), typed, and its one loader,
// which checks the byte order before anything is read (byte-order.ts). The process watcher is
// another module with its own loader (process-watch.ts).
// Every socket of the process is drained by one reader thread in the addon (addon/reader.h),
// however many namespaces are watched; each socket keeps its own bounded queue to JS.
// The session (src/session/watcher.ts) takes the constructor as a parameter, so socket logic
// can be driven by a fake that replays captured datagrams as well as by the real kernel.

import { endianness } from 'node:os';
import { checkByteOrder } from './byte-order';

export interface NativeSocketOptions {
  /** Path of a network namespace file (/run/netns/NAME, /proc/PID/ns/net); omitted = our own. */
  netnsPath?: string;
  /** RTNLGRP_* numbers joined with NETLINK_ADD_MEMBERSHIP (groups >= 32 need the setsockopt). */
  groups: number[];
  /** Receive buffer to ask for: SO_RCVBUFFORCE, falling back to SO_RCVBUF. 0 = leave the default. */
  receiveBufferBytes: number;
  /** Bytes of one chunk handed to JS (default 262144). */
  chunkBytes?: number;
  /** Chunks that may wait for JS; one more is an overrun (default 64). */
  maxQueuedChunks?: number;
  /**
   * A chunk counts against maxQueuedChunks until release() is called for it, not merely until
   * it reaches JS: for a consumer that processes chunks later, in slices (default false).
   * The chunks are then pooled: each 'data' Buffer is one of a few fixed slots (chunkBytes
   * long, filled `length` bytes) that the reader fills again once it is released, oldest first.
   * The consumer reads it in place and must keep no reference into it after release().
   */
  explicitRelease?: boolean;
}

/**
 * Events the reader thread delivers on the JS thread, in order.
 * - 'data': a chunk of datagrams, each as [u32 length, host order][datagram][pad to 4], in
 *   payload[0, length). Without explicitRelease a fresh copy of exactly `length` bytes; with
 *   it a pooled slot, valid until release() (see NativeSocketOptions.explicitRelease).
 * - 'overrun': messages were lost. reason 'enobufs' (the kernel dropped them: ENOBUFS, also as a
 *   poll error), 'queue' (the bounded queue to JS was full and a chunk was dropped) or
 *   'truncated' (a datagram larger than the read buffer) or 'socket_error' (the kernel reported
 *   an error on the socket, such as a notification it failed to build). count = overruns since
 *   the last signal. The spurious EINVAL of the kernel's dump-continuation race is skipped.
 * - 'foreign': datagrams from a sender other than the kernel (source nl_pid not 0) were refused
 *   unread. payload = the port id of the first such sender since the last signal, count = how
 *   many were refused since then. (The socket is connected to the kernel, so the kernel already
 *   refuses unicast from others; what is left is multicast forged by a process with
 *   CAP_NET_ADMIN in the namespace.)
 * - 'error': the socket itself failed (EBADF, ENOTSOCK, a run of EINVALs; Node-shaped: errno,
 *   code, syscall); the reader stops.
 */
export type NativeEventHandler = (
  event: 'data' | 'overrun' | 'foreign' | 'error',
  payload: Buffer | string | number | NodeJS.ErrnoException,
  count: number,
  /** 'data': the chunk's bytes. (Stand-ins may omit it: then the whole Buffer.) */
  length?: number,
) => void;

export interface NativeSocket {
  /** Our netlink port id (nl_pid), which dump replies carry. */
  readonly portId: number;
  /** What the kernel granted (getsockopt SO_RCVBUF, already doubled by the kernel). */
  readonly receiveBufferBytes: number;
  /** Whether SO_RCVBUFFORCE was permitted (CAP_NET_ADMIN). */
  readonly receiveBufferForced: boolean;
  /** Hands the socket to the reader thread (shared by all sockets; started with the first). */
  start(): void;
  /** Sends one or more requests (a buffer may hold many nlmsghdr) to the kernel. Throws an errno error. */
  send(request: Buffer): void;
  /** Chunks waiting for JS (with explicitRelease: not yet released). */
  queueDepth(): number;
  /** With explicitRelease: one chunk is processed; it leaves the queue bound. */
  release(): void;
  /** Takes the socket off the reader thread and closes it at once; the other sockets go on. Idempotent. */
  close(): void;
}

export interface NativeSocketConstructor {
  new (options: NativeSocketOptions, onEvent: NativeEventHandler): NativeSocket;
}

interface NativeBinding {
  NetlinkSocket: NativeSocketConstructor;
  /** malloc_trim(0): hands freed heap pages back to the kernel. */
  trimMemory(): boolean;
  /** The byte order the addon was compiled for, named as os.endianness() names it ('LE', 'BE'). */
  byteOrder?: string;
}

let binding: NativeBinding | undefined;

/**
 * Loads build/Release/netlink_socket.node, built by node-gyp at `npm ci`. Throws ByteOrderError,
 * before any socket is opened, on a host whose byte order the codec does not read.
 */
function load(): NativeBinding {
  if (!binding) {
    // dist/src/runtime/native.js -> ../../../build/Release
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require('../../../build/Release/netlink_socket.node') as NativeBinding;
    checkByteOrder(endianness(), loaded.byteOrder);
    binding = loaded;
  }
  return binding;
}

export function loadNativeSocket(): NativeSocketConstructor {
  return load().NetlinkSocket;
}

/** Returns freed heap memory to the kernel (glibc keeps it otherwise). */
export function trimMemory(): boolean {
  return load().trimMemory();
}
