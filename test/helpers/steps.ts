// Tests that build on one another in one live namespace, each a step of a story: once a step
// fails, the later ones are skipped and name it, since what they expect follows from the state
// the failed step should have left.

import { test, type TestContext } from 'node:test';

export type Step = (name: string, fn: () => Promise<void>) => void;

/** A `step` for one story: a test that is skipped once an earlier step of the same story failed. */
export function sequentialSteps(): Step {
  let failed: string | undefined;
  return (name, fn) => {
    test(name, async (t: TestContext) => {
      if (failed) {
        t.skip(`an earlier step failed (${failed})`);
        return;
      }
      try {
        await fn();
      } catch (e) {
        failed = name;
        throw e;
      }
    });
  };
}
