import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteOrderError, byteOrderProblem, checkByteOrder } from '../../../src/runtime/byte-order';

test('a little-endian host with a little-endian addon passes', () => {
  assert.equal(byteOrderProblem('LE', 'LE'), undefined);
  assert.doesNotThrow(() => checkByteOrder('LE', 'LE'));
});

test('a big-endian host is refused, naming its byte order and what the codec reads', () => {
  for (const addon of ['BE', 'LE', undefined]) {
    assert.throws(
      () => checkByteOrder('BE', addon),
      (err: Error) =>
        err instanceof ByteOrderError &&
        /this host is big-endian/.test(err.message) &&
        /the codec reads netlink's host-order fields as little-endian/.test(err.message),
    );
  }
});

test('an addon compiled for another byte order is refused, and one that does not say is refused too', () => {
  assert.match(
    byteOrderProblem('LE', 'BE') ?? '',
    /compiled for a host that is big-endian, and this host is little-endian; the codec reads .* as little-endian/,
  );
  assert.match(byteOrderProblem('LE', 'unknown') ?? '', /of unknown byte order \("unknown"\)/);
  assert.match(byteOrderProblem('LE', undefined) ?? '', /does not say which byte order .* npm run build/);
});
