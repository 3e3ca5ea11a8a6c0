// The linter and the formatter over the whole tree, as `npm run lint` and `npm run format:check`
// run them (eslint.config.mjs, .prettierrc.json, .prettierignore): here so that `npm run test:unit`,
// `npm test` and CI run them, and a failure shows in the test summary with the tool's own report.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO } from '../../helpers/paths';

/** Runs a binary from node_modules/.bin at the repository's root; returns its exit status and output. */
function runTool(name: string, args: string[]): { status: number | null; output: string } {
  const bin = path.join(REPO, 'node_modules', '.bin', name);
  assert.ok(existsSync(bin), `${bin} is missing: run npm ci (it is a devDependency)`);
  const r = spawnSync(bin, args, {
    cwd: REPO,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

test('eslint reports no problems (npm run lint)', { timeout: 180_000 }, () => {
  const { status, output } = runTool('eslint', ['--max-warnings=0', '.']);
  assert.equal(
    status,
    0,
    `eslint exited with ${status}; \`npx eslint --fix .\` fixes what it can, the rest is by hand:\n${output}`,
  );
});

test('prettier finds every file formatted (npm run format:check)', { timeout: 180_000 }, () => {
  const { status, output } = runTool('prettier', ['--check', '.']);
  assert.equal(
    status,
    0,
    `prettier --check exited with ${status}; \`npm run format\` rewrites these files:\n${output}`,
  );
});
