// The address family's three encodings (src/netlink/family.ts): the kernel's number, the
// model's index and the label, each conversion against the others.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET, AF_INET6 } from '../../../src/netlink/constants';
import {
  FAMILY_INET,
  FAMILY_INET6,
  FAMILY_NAMES,
  familyIndex,
  familyIndexOfName,
  familyName,
  familyNameOfIndex,
  familyOfIndex,
} from '../../../src/netlink/family';

test('every encoding of inet and inet6 converts to the others', () => {
  for (const [kernel, index, name] of [
    [AF_INET, FAMILY_INET, 'inet'],
    [AF_INET6, FAMILY_INET6, 'inet6'],
  ] as const) {
    assert.equal(familyName(kernel), name);
    assert.equal(familyIndex(kernel), index);
    assert.equal(familyNameOfIndex(index), name);
    assert.equal(familyIndexOfName(name), index);
    assert.equal(familyOfIndex(index), kernel);
    assert.equal(FAMILY_NAMES[index], name);
  }
});
