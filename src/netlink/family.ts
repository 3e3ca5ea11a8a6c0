// The address family, in its three encodings and the conversions between them, in one place:
// - the kernel's number (AF_INET 2, AF_INET6 10), as ifa_family, rtm_family, ndm_family carry it;
// - an index, 0 inet and 1 inet6, for the model's per-family pairs ([inet, inet6] counts);
// - the name, 'inet' or 'inet6', as `ip` prints it: the `family` label and the events' field.
// Only AF_INET and AF_INET6 are meant: the callers drop other families before they convert.

import { AF_INET, AF_INET6 } from './constants';

export type FamilyName = 'inet' | 'inet6';
export type FamilyIndex = 0 | 1;

export const FAMILY_INET = 0;
export const FAMILY_INET6 = 1;

/** The names by index. */
export const FAMILY_NAMES: readonly [FamilyName, FamilyName] = ['inet', 'inet6'];

/** The kernel's number as a name: AF_INET6 is 'inet6', anything else 'inet'. */
export function familyName(family: number): FamilyName {
  return family === AF_INET6 ? 'inet6' : 'inet';
}

/** The kernel's number as an index: AF_INET6 is 1, anything else 0. */
export function familyIndex(family: number): FamilyIndex {
  return family === AF_INET6 ? FAMILY_INET6 : FAMILY_INET;
}

/** An index as a name: 0 is 'inet', anything else 'inet6'. */
export function familyNameOfIndex(index: number): FamilyName {
  return index === FAMILY_INET ? 'inet' : 'inet6';
}

/** A name as an index. */
export function familyIndexOfName(name: FamilyName): FamilyIndex {
  return name === 'inet6' ? FAMILY_INET6 : FAMILY_INET;
}

/** An index as the kernel's number: 0 is AF_INET, anything else AF_INET6. */
export function familyOfIndex(index: number): typeof AF_INET | typeof AF_INET6 {
  return index === FAMILY_INET ? AF_INET : AF_INET6;
}
