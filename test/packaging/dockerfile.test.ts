// The Dockerfile, checked without a container engine (none runs on these machines): its stages,
// their base images, and what the runtime stage receives. The runtime stage must get the built
// addons, dist/src, production dependencies, package.json and config/ only: no compiler, no
// TypeScript sources, no tests, no devDependencies; and every package dist/src requires at run
// time must be a production dependency, or the slim image would fail at start.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..', '..');
const pkgJson = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

interface Instruction {
  op: string;
  args: string;
  line: number;
}

interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into instructions (comments dropped, `\` continuations joined) and stages. */
function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending !== '' && line.startsWith('#')) return;
    if (pending === '') start = i + 1;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full)!;
    instructions.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
  });
  assert.equal(pending, '', 'the Dockerfile ends inside a continuation');
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `FROM ${ins.args} (line ${ins.line})`);
      stages.push({ image: m[1]!, name: m[2], instructions: [] });
    } else {
      assert.ok(stages.length > 0 || ins.op === 'ARG', `${ins.op} before the first FROM (line ${ins.line})`);
      stages.at(-1)?.instructions.push(ins);
    }
  }
  return stages;
}

interface Copy {
  from: string | undefined;
  sources: string[];
  dest: string;
}

function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.op === 'COPY' || i.op === 'ADD')
    .map((i) => {
      const words = i.args.split(/\s+/);
      let from: string | undefined;
      while (words[0]?.startsWith('--')) {
        const flag = words.shift()!;
        if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
      }
      return { from, sources: words.slice(0, -1), dest: words.at(-1)! };
    });
}

const runs = (stage: Stage) => stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);

describe('Dockerfile', () => {
  const text = fs.readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
  const stages = parseDockerfile(text);
  const byName = new Map(stages.filter((s) => s.name).map((s) => [s.name!, s]));
  const runtime = stages.at(-1)!;

  test('multi-stage: a node:20-bookworm build stage with a compiler, a node:20-bookworm-slim runtime last', () => {
    assert.ok(stages.length >= 2, `${stages.length} stage(s)`);
    const build = byName.get('build');
    assert.ok(build, 'a stage named build');
    assert.equal(build.image, 'node:20-bookworm');
    assert.ok(
      runs(build).some((r) => /apt-get install\b.*\bbuild-essential\b/.test(r) && /\bpython3\b/.test(r)),
      'the build stage installs build-essential and python3',
    );
    assert.ok(
      runs(build).some((r) => /\bnpm ci\b/.test(r)),
      'the build stage installs from the lockfile (npm ci)',
    );
    assert.ok(
      runs(build).some((r) => /\bnpm run build\b|node-gyp rebuild/.test(r)),
      'the build stage compiles the addon',
    );
    assert.equal(runtime.image, 'node:20-bookworm-slim');
    assert.equal(runtime.name, 'runtime');
    // Node 20 in every stage: the addon's ABI is the runtime's.
    for (const s of stages) assert.match(s.image, /^node:20-/, `stage ${s.name}: ${s.image}`);
  });

  test('the runtime stage gets the built addons, dist/src, production dependencies, package.json and config/ only', () => {
    const got = copies(runtime)
      .map((c) => `${c.from ?? '(context)'} ${c.sources.join(' ')} -> ${c.dest}`)
      .sort();
    assert.deepEqual(got, [
      '(context) config/ -> ./config/',
      '(context) package.json -> ./',
      'build /src/build/Release/*.node -> ./build/Release/',
      'build /src/dist/src/ -> ./dist/src/',
      'deps /src/node_modules/ -> ./node_modules/',
    ]);
    for (const c of copies(runtime))
      if (c.from)
        assert.ok(byName.has(c.from) && byName.get(c.from) !== runtime, `COPY --from=${c.from} names an earlier stage`);
    assert.deepEqual(runs(runtime), [], 'nothing is installed or built in the runtime stage');
    assert.ok(!runtime.instructions.some((i) => i.op === 'ADD'), 'no ADD in the runtime stage');
    // The stage that provides node_modules installs production dependencies only, from the lockfile.
    const deps = byName.get('deps')!;
    assert.ok(
      runs(deps).some((r) => /\bnpm ci\b/.test(r) && /--omit=dev\b/.test(r)),
      'deps: npm ci --omit=dev',
    );
    assert.ok(
      !copies(deps).some((c) => c.sources.some((s) => !['package.json', 'package-lock.json'].includes(s))),
      'deps sees only package.json and the lockfile',
    );
  });

  test('runtime: non-root user, port 9932, entrypoint where the COPYs put main.js', () => {
    const last = (op: string) => runtime.instructions.filter((i) => i.op === op).at(-1)?.args;
    const user = last('USER');
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `USER ${user}`);
    assert.equal(last('EXPOSE'), '9932');
    const workdir = last('WORKDIR')!;
    const entrypoint = JSON.parse(last('ENTRYPOINT')!) as string[];
    assert.deepEqual(entrypoint, ['node', path.posix.join(workdir, 'dist/src/main.js')]);
    // The addon loader resolves build/Release from dist/src/runtime: the two must be siblings, as in the repo.
    const native = fs.readFileSync(path.join(REPO, 'src', 'runtime', 'native.ts'), 'utf8');
    assert.match(native, /require\('\.\.\/\.\.\/\.\.\/build\/Release\/netlink_socket\.node'\)/);
  });

  test('what the runtime stage copies from the build exists after a build, and .dockerignore keeps host builds out', () => {
    assert.ok(fs.existsSync(path.join(REPO, 'dist', 'src', 'main.js')));
    assert.ok(fs.readdirSync(path.join(REPO, 'build', 'Release')).some((f) => f === 'netlink_socket.node'));
    const build = byName.get('build')!;
    const context = copies(build)
      .filter((c) => !c.from)
      .flatMap((c) => c.sources);
    for (const s of context)
      assert.ok(fs.existsSync(path.join(REPO, s)), `the build stage copies ${s}, which does not exist`);
    assert.ok(
      !context.some((s) => /^(test|bench|node_modules|build|dist)\b/.test(s)),
      `the build stage copies ${context.join(' ')}`,
    );
    const ignored = fs
      .readFileSync(path.join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['node_modules', 'build', 'dist', 'test', '.git'])
      assert.ok(ignored.includes(p), `.dockerignore lacks ${p}`);
  });

  test('every package dist/src requires at run time is a production dependency', () => {
    const required = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.js')) {
          for (const m of fs.readFileSync(p, 'utf8').matchAll(/require\(\s*['"]([^'"./][^'"]*)['"]\s*\)/g)) {
            const spec = m[1]!;
            if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) continue;
            required.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
          }
        }
      }
    };
    walk(path.join(REPO, 'dist', 'src'));
    const missing = [...required].filter((r) => !(r in pkgJson.dependencies)).sort();
    assert.deepEqual(missing, [], 'required at run time but not a production dependency (absent from the slim image)');
  });
});
