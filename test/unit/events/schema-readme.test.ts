// The README's event schema (the table between `event-schema:begin` and `event-schema:end`)
// against the schema types of src/state/events.ts, read with the TypeScript parser: every field
// of every event interface, and every action, is in its kind's row; every kind has a row. A
// field added to the types without a word in the README fails here.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { REPO } from '../../helpers/paths';

interface Declared {
  /** Own property names. */
  fields: string[];
  /** The interfaces it extends. */
  bases: string[];
  /** The literal of its `kind` property, when it has one. */
  kind?: string;
  /** The literals of its `action` property. */
  actions: string[];
}

function literals(type: ts.TypeNode | undefined): string[] {
  if (!type) return [];
  if (ts.isLiteralTypeNode(type) && ts.isStringLiteral(type.literal)) return [type.literal.text];
  if (ts.isUnionTypeNode(type)) return type.types.flatMap(literals);
  return [];
}

/** The interfaces of src/state/events.ts by name. */
function schemaInterfaces(source: string): Map<string, Declared> {
  const sf = ts.createSourceFile('events.ts', source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out = new Map<string, Declared>();
  for (const node of sf.statements) {
    if (!ts.isInterfaceDeclaration(node)) continue;
    const d: Declared = { fields: [], bases: [], actions: [] };
    for (const clause of node.heritageClauses ?? [])
      for (const t of clause.types) if (ts.isIdentifier(t.expression)) d.bases.push(t.expression.text);
    for (const member of node.members) {
      if (!ts.isPropertySignature(member) || !ts.isIdentifier(member.name)) continue;
      const name = member.name.text;
      d.fields.push(name);
      if (name === 'kind') d.kind = literals(member.type)[0];
      if (name === 'action') d.actions = literals(member.type);
    }
    out.set(node.name.text, d);
  }
  return out;
}

/** The README's schema rows: first cell (kind, or "every event") -> [actions cell, fields cell]. */
function readmeSchemaRows(readme: string): Map<string, [string, string]> {
  const begin = readme.indexOf('<!-- event-schema:begin -->');
  const end = readme.indexOf('<!-- event-schema:end -->');
  assert.ok(begin >= 0 && end > begin, 'README.md has no event-schema:begin/end table');
  const rows = new Map<string, [string, string]>();
  for (const line of readme.slice(begin, end).split('\n')) {
    if (!line.startsWith('|') || line.startsWith('| ---') || line.startsWith('| kind ')) continue;
    const cells = line.split('|').map((c) => c.trim());
    rows.set(cells[1]!.replace(/`/g, ''), [cells[2] ?? '', cells[3] ?? '']);
  }
  return rows;
}

const quoted = (cell: string, name: string): boolean => cell.includes(`\`${name}\``);

test('the README lists every field and action of the event schema, per kind', () => {
  const types = schemaInterfaces(readFileSync(join(REPO, 'src', 'state', 'events.ts'), 'utf8'));
  const rows = readmeSchemaRows(readFileSync(join(REPO, 'README.md'), 'utf8'));
  const base = types.get('EventBase');
  assert.ok(base, 'src/state/events.ts has no EventBase');
  const every = rows.get('every event');
  assert.ok(every, 'the README schema has no "every event" row');
  const missing: string[] = [];
  for (const f of base.fields) if (!quoted(every[1], f)) missing.push(`every event: ${f}`);
  const events = [...types].filter(([, d]) => d.bases.includes('EventBase'));
  assert.ok(events.length >= 7, `found ${events.length} event interfaces`);
  for (const [name, d] of events) {
    assert.ok(d.kind, `${name} has no kind literal`);
    const row = rows.get(d.kind);
    if (!row) {
      missing.push(`${d.kind}: no row`);
      continue;
    }
    for (const a of d.actions) if (!quoted(row[0], a)) missing.push(`${d.kind}: action ${a}`);
    for (const f of d.fields) if (f !== 'kind' && f !== 'action' && !quoted(row[1], f)) missing.push(`${d.kind}: ${f}`);
  }
  // Fields of nested types: a link's state.
  const state = types.get('LinkState');
  assert.ok(state, 'src/state/events.ts has no LinkState');
  for (const f of state.fields) if (!quoted(rows.get('link')?.[1] ?? '', f)) missing.push(`link: state.${f}`);
  assert.deepEqual(missing, [], 'fields of src/state/events.ts missing from the README schema');
});

test('the schema reader sees a field that is not documented (it can fail)', () => {
  const types = schemaInterfaces(
    "interface EventBase { seq: number }\ninterface XEvent extends EventBase { kind: 'x'; action: 'a' | 'b'; extra?: string }",
  );
  assert.deepEqual(types.get('XEvent'), {
    fields: ['kind', 'action', 'extra'],
    bases: ['EventBase'],
    kind: 'x',
    actions: ['a', 'b'],
  });
  const rows = readmeSchemaRows(
    '<!-- event-schema:begin -->\n| kind | actions | fields |\n| --- | --- | --- |\n| `x` | `a` | `other` |\n<!-- event-schema:end -->',
  );
  assert.deepEqual(rows.get('x'), ['`a`', '`other`']);
  assert.equal(quoted(rows.get('x')![1], 'extra'), false);
});
