// Which devDependencies a production install must not hold. A devDependency that a production
// dependency also needs (@types/node and protobufjs under the OpenTelemetry OTLP exporters, say)
// is rightly there, so the packaging tests ask npm for the production tree instead of taking
// the devDependencies list as it is.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The devDependencies of the package at `repo` that nothing in its production tree needs. */
export function devOnlyDependencies(repo: string): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  // npm ls exits non-zero on a mere warning (an extraneous package): its list is still whole.
  const r = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: repo,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  const marker = `node_modules${path.sep}`;
  const production = new Set(
    (r.stdout ?? '')
      .split('\n')
      .map((line) => {
        const at = line.lastIndexOf(marker);
        return at < 0 ? '' : line.slice(at + marker.length);
      })
      .filter((name) => name !== ''),
  );
  if (production.size === 0) throw new Error(`npm ls --omit=dev listed nothing in ${repo}: ${r.stderr}`);
  return Object.keys(pkg.devDependencies ?? {}).filter((name) => !production.has(name));
}
