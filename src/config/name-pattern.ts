// Interface include/exclude patterns: RE2 syntax and semantics, the regexes Prometheus itself
// takes, anchored at both ends as Prometheus anchors them (`^(?s:PATTERN)$`), and matched by
// re2js, a pure-JavaScript port of RE2, in time linear in the name. A backtracking RegExp let a
// pattern such as `(((a+)+)+)+$` stall the event loop for seconds per new interface; RE2 cannot.
// What RE2 rejects (backreferences, lookahead and lookbehind, possessive quantifiers, repeat
// counts over 1000) is rejected here too, so a pattern that works in a relabel rule works here.

import { RE2JS } from 're2js';

/** An interface-name filter: compileNamePattern makes the config's into linear-time RE2 matchers. */
export interface NameMatcher {
  test(name: string): boolean;
}

/** Longest pattern source accepted: interface patterns are short; this bounds compile time. */
export const MAX_PATTERN_LENGTH = 1024;
/**
 * Largest compiled program accepted, in RE2 instructions. It bounds the compile (about 30-50 ms
 * at the cap on the 2-core test machine) and the memory a pattern holds; a match stays linear in
 * the name whatever the size (bench/name-patterns.ts measures both). `[a-z]{1000}` is about 1,000
 * instructions; `eth[0-9]+|veth.*|br-.*` is 22.
 */
export const MAX_PATTERN_PROGRAM = 10_000;

export class PatternError extends Error {
  override name = 'PatternError';
}

function compile(source: string): RE2JS {
  try {
    return RE2JS.compile(source);
  } catch (err) {
    // re2js says "error parsing regexp: invalid or unsupported Perl syntax: `(?=`": keep the reason.
    throw new PatternError(
      `is not a valid RE2 regular expression (${(err as Error).message.replace(/^error parsing regexp: /, '')})`,
    );
  }
}

/** Compiles `source` into an anchored, linear-time matcher; throws PatternError with the reason. */
export function compileNamePattern(source: string): NameMatcher & { readonly source: string } {
  if (source.length > MAX_PATTERN_LENGTH)
    throw new PatternError(`is ${source.length} characters long; at most ${MAX_PATTERN_LENGTH} are accepted`);
  // Compiled alone first: a source such as `a)|(b` would otherwise close the anchoring group and
  // leave one branch unanchored.
  compile(source);
  const re = compile(`^(?s:${source})$`);
  if (re.programSize() > MAX_PATTERN_PROGRAM) {
    throw new PatternError(
      `compiles to ${re.programSize()} RE2 instructions; at most ${MAX_PATTERN_PROGRAM} are accepted (a smaller repeat count or fewer alternatives)`,
    );
  }
  return { source, test: (name: string) => re.matches(name) };
}
