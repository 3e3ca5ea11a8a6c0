// The house's rules over the import graph of src/ (docs/architecture.md): every file belongs to a
// room, a room imports only from itself and the rooms below it, and no file imports itself back
// through others. `import type` counts as an import: a type from a higher room ties the lower room
// to it all the same. The graph is read with the TypeScript parser, no build needed.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { REPO } from '../../helpers/paths';

/**
 * The rooms, lowest first: the one table of them (docs/architecture.md shows it, and the last test
 * below checks that it shows the same). A path ending in `/` is a folder, else one file.
 */
const ROOMS: readonly { name: string; paths: readonly string[] }[] = [
  { name: 'support', paths: ['src/support/'] },
  { name: 'netlink', paths: ['src/netlink/'] },
  { name: 'config', paths: ['src/config/'] },
  { name: 'runtime', paths: ['src/runtime/'] },
  { name: 'session', paths: ['src/session/'] },
  { name: 'state', paths: ['src/state/'] },
  { name: 'events', paths: ['src/events/'] },
  { name: 'tracing', paths: ['src/tracing/'] },
  { name: 'metrics', paths: ['src/metrics/'] },
  { name: 'http', paths: ['src/http/'] },
  { name: 'top', paths: ['src/warmup/', 'src/main.ts', 'src/cli.ts'] },
];

/**
 * Packages that belong to a room: only that room and the rooms above it import them (the metrics
 * room renders with prom-client, the tracing room alone loads OpenTelemetry). A name ending in `/`
 * is a scope.
 */
const PACKAGES: readonly { name: string; room: string }[] = [
  { name: 'prom-client', room: 'metrics' },
  { name: '@opentelemetry/', room: 'tracing' },
];

interface Import {
  /** The importing file, relative to the repository, with `/`. */
  from: string;
  /** The specifier as written. */
  specifier: string;
  /** True for a package (`node:` builtins are left out), false for a relative path. */
  isPackage: boolean;
  /** The file it resolves to (relative to the repository), or undefined if none exists. */
  to: string | undefined;
  line: number;
  typeOnly: boolean;
}

function rel(abs: string): string {
  return path.relative(REPO, abs).split(path.sep).join('/');
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Resolves a relative specifier the way tsc (moduleResolution node) does for our sources. */
function resolve(fromAbs: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(fromAbs), specifier);
  const stem = base.replace(/\.js$/, '');
  for (const c of [base, `${stem}.ts`, `${stem}.d.ts`, path.join(base, 'index.ts')]) {
    if (existsSync(c) && statSync(c).isFile()) return c;
  }
  return undefined;
}

/**
 * Every import of one file, relative or of a package (not `node:` builtins): import/export ... from,
 * import x = require(), require(), import(), import('x').T.
 */
function importsOf(abs: string): Import[] {
  const text = readFileSync(abs, 'utf8');
  const sf = ts.createSourceFile(abs, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Import[] = [];
  const add = (node: ts.Node, literal: ts.Expression | undefined, typeOnly: boolean): void => {
    if (!literal || !ts.isStringLiteralLike(literal)) return;
    const specifier = literal.text;
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    if (!specifier.startsWith('.')) {
      if (!specifier.startsWith('node:'))
        out.push({ from: rel(abs), specifier, isPackage: true, to: undefined, line, typeOnly });
      return;
    }
    const to = resolve(abs, specifier);
    out.push({
      from: rel(abs),
      specifier,
      isPackage: false,
      to: to === undefined ? undefined : rel(to),
      line,
      typeOnly,
    });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node, node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
    } else if (ts.isExportDeclaration(node)) {
      add(node, node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal as ts.Expression, true);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      add(node, node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** A relative import that points into src/ but finds no file there. */
function brokenIntoSrc(i: Import): boolean {
  if (i.isPackage || i.to !== undefined) return false;
  return path.posix.normalize(path.posix.join(path.posix.dirname(i.from), i.specifier)).startsWith('src/');
}

function roomOf(file: string): number {
  return ROOMS.findIndex((r) => r.paths.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)));
}

function describe(i: Import): string {
  return `${i.from}:${i.line} imports ${i.typeOnly ? 'type from ' : ''}'${i.specifier}'`;
}

const SRC_FILES = listTs(path.join(REPO, 'src')).map(rel);
const SRC_IMPORTS = listTs(path.join(REPO, 'src')).flatMap(importsOf);

test('the graph was read: src/ has files and imports', () => {
  assert.ok(SRC_FILES.length > 50, `only ${SRC_FILES.length} files under src/`);
  const relative = SRC_IMPORTS.filter((i) => !i.isPackage).length;
  assert.ok(relative > 100, `only ${relative} relative imports under src/`);
});

test('every import under src/ resolves to a file', () => {
  const broken = SRC_IMPORTS.filter(brokenIntoSrc);
  assert.deepEqual(broken.map(describe), []);
});

test('every file under src/ belongs to a room', () => {
  const homeless = SRC_FILES.filter((f) => roomOf(f) < 0);
  assert.deepEqual(
    homeless,
    [],
    `files in no room (add them to a room in ROOMS and docs/architecture.md, or move them):\n${homeless.join('\n')}`,
  );
});

test('a room imports only from itself and the rooms below it', () => {
  const violations: string[] = [];
  for (const i of SRC_IMPORTS) {
    if (i.to === undefined || !i.to.startsWith('src/')) continue;
    const from = roomOf(i.from);
    const to = roomOf(i.to);
    if (from < 0 || to < 0) continue; // reported by the test above
    if (to > from) violations.push(`${describe(i)}: ${ROOMS[from]!.name} -> ${ROOMS[to]!.name} (${i.to}) goes up`);
  }
  const order = ROOMS.map((r) => r.name).join(' < ');
  assert.equal(
    violations.length,
    0,
    `${violations.length} import(s) against the direction ${order}:\n${violations.join('\n')}`,
  );
});

test('a package that belongs to a room is imported only from that room and above', () => {
  const violations: string[] = [];
  for (const i of SRC_IMPORTS) {
    if (!i.isPackage) continue;
    const owner = PACKAGES.find((p) =>
      p.name.endsWith('/')
        ? i.specifier.startsWith(p.name)
        : i.specifier === p.name || i.specifier.startsWith(`${p.name}/`),
    );
    if (!owner) continue;
    const from = roomOf(i.from);
    const to = ROOMS.findIndex((r) => r.name === owner.room);
    if (from >= 0 && from < to)
      violations.push(`${describe(i)}: ${ROOMS[from]!.name} uses a package of ${owner.room}, a room above it`);
  }
  assert.equal(
    violations.length,
    0,
    `${violations.length} package import(s) below their room:\n${violations.join('\n')}`,
  );
});

/** Files that import one another, directly or through others (strongly connected components), each sorted. */
function tangles(files: readonly string[], edges: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (edges.get(v) ?? []).includes(v)) components.push(c.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) strong(f);
  return components;
}

/** The shortest cycle through `start` inside `tangle` (breadth-first), as a path that ends where it starts. */
function shortestCycle(start: string, tangle: ReadonlySet<string>, edges: Map<string, string[]>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q]!;
    for (const w of edges.get(v) ?? []) {
      if (!tangle.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start]; // not reached: every file of a tangle lies on a cycle
}

test('no import cycles between files under src/', () => {
  const edges = new Map<string, string[]>();
  for (const i of SRC_IMPORTS) {
    if (i.to === undefined || !i.to.startsWith('src/')) continue;
    const list = edges.get(i.from) ?? [];
    if (!list.includes(i.to)) list.push(i.to);
    edges.set(i.from, list);
  }
  // Each tangle with every distinct cycle that runs through one of its files (the shortest
  // through each file, shown from its lowest file), so that every import to cut shows.
  const report: string[] = [];
  let count = 0;
  for (const tangle of tangles(SRC_FILES, edges)) {
    const inside = new Set(tangle);
    const seen = new Set<string>();
    report.push(`${tangle.length} files import one another: ${tangle.join(', ')}`);
    for (const file of tangle) {
      const cycle = shortestCycle(file, inside, edges).slice(0, -1);
      const first = cycle.indexOf([...cycle].sort()[0]!);
      const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
      const key = rotated.join(' -> ');
      if (seen.has(key)) continue;
      seen.add(key);
      count++;
      report.push(`  ${key} -> ${rotated[0]}`);
    }
  }
  assert.equal(count, 0, `${count} import cycle(s):\n${report.join('\n')}`);
});

test('test/ and bench/ import src/ only through files that exist', () => {
  const files = [...listTs(path.join(REPO, 'test')), ...listTs(path.join(REPO, 'bench'))].filter(
    (f) => !rel(f).startsWith('test/fixtures/'),
  );
  const broken = files.flatMap(importsOf).filter(brokenIntoSrc);
  assert.deepEqual(broken.map(describe), []);
});

test('docs/architecture.md shows the same rooms, in the same order', () => {
  const doc = readFileSync(path.join(REPO, 'docs', 'architecture.md'), 'utf8');
  const begin = doc.indexOf('<!-- rooms:begin -->');
  const end = doc.indexOf('<!-- rooms:end -->');
  assert.ok(begin >= 0 && end > begin, 'docs/architecture.md has no <!-- rooms:begin --> ... <!-- rooms:end --> table');
  // Rows: | order | room | paths (in backquotes) | what it holds |
  const rows = doc
    .slice(begin, end)
    .split('\n')
    .filter((l) => /^\|\s*\d+\s*\|/.test(l))
    .map((l) => {
      const cells = l.split('|').map((c) => c.trim());
      return { name: cells[2]!.replace(/`/g, ''), paths: [...cells[3]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!) };
    });
  assert.deepEqual(
    rows,
    ROOMS.map((r) => ({ name: r.name, paths: [...r.paths] })),
  );
});
