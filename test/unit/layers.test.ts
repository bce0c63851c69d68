/**
 * The layers of src/ only point down, so a reader (and a change) can follow any behaviour from a
 * command to the module that does it without meeting a cycle:
 *
 *   src/core (pure) < src/runtime (side effects) < src/kube, src/local (the two cluster adapters)
 *   < src/agent, src/ops (the two programs)
 *
 * The two adapters do not import each other. Every relative import of every file under src/ is
 * read with the TypeScript parser (type-only imports, re-exports and dynamic imports included), and
 * a dynamic import must name its module literally so that readers and tools can follow it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { repoRoot } from '../support/tools.js';

const srcDir = join(repoRoot, 'src');

/** Rank of each top-level folder of src/: a file may import its own folder or a lower rank. */
const RANK: Record<string, number> = { core: 0, runtime: 1, kube: 2, local: 2, agent: 3, ops: 3 };
/** Folders of the same rank that must not import each other either. */
const SEPARATE = new Set(['kube', 'local']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

interface Specifier {
  /** The module named, or null when a dynamic import names it with an expression. */
  text: string | null;
  line: number;
}

/** Every module a file names: import and export declarations, import types, and import() calls. */
function specifiersOf(file: string): Specifier[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: Specifier[] = [];
  const add = (node: ts.Node, spec: ts.Node | undefined) =>
    out.push({
      text: spec && ts.isStringLiteralLike(spec) ? spec.text : null,
      line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1,
    });
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      if (node.moduleSpecifier) add(node, node.moduleSpecifier);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg)) add(node, arg.literal);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const topOf = (path: string) => relative(srcDir, path).split(sep)[0]!;

/** Why importing `target` from `file` breaks the rule, or undefined when it does not. */
function violation(file: string, target: string): string | undefined {
  if (!resolve(target).startsWith(srcDir + sep)) return 'leaves src/';
  const from = topOf(file);
  const to = topOf(target);
  const rankFrom = RANK[from];
  const rankTo = RANK[to];
  if (rankFrom === undefined || rankTo === undefined || from === to) return undefined;
  if (rankTo > rankFrom) return `src/${from} is below src/${to}`;
  if (rankTo === rankFrom && SEPARATE.has(from)) return `src/${from} and src/${to} do not import each other`;
  return undefined;
}

const files = sourceFiles(srcDir);

describe('layers of src/', () => {
  it('has a rank for every top-level folder, so that no folder escapes the rule', () => {
    const tops = new Set(files.map(topOf));
    assert.deepEqual(
      [...tops].filter((t) => RANK[t] === undefined),
      [],
      'a new top-level folder of src/ needs its place in RANK',
    );
  });

  it('has no import that points up a layer or across the two cluster adapters', () => {
    const bad: string[] = [];
    for (const file of files)
      for (const s of specifiersOf(file)) {
        if (s.text === null || !s.text.startsWith('.')) continue;
        const target = resolve(dirname(file), s.text);
        const why = violation(file, target);
        if (why) bad.push(`${relative(repoRoot, file)}:${s.line} imports ${s.text} (${why})`);
      }
    assert.deepEqual(bad, [], `imports that point up a layer:\n${bad.join('\n')}`);
  });

  it('names the module of every dynamic import literally', () => {
    const bad = files.flatMap((file) =>
      specifiersOf(file)
        .filter((s) => s.text === null)
        .map((s) => `${relative(repoRoot, file)}:${s.line}`),
    );
    assert.deepEqual(bad, [], `dynamic imports without a literal module name:\n${bad.join('\n')}`);
  });

  it('finds an upward import when there is one', () => {
    // The checker itself: a rule that can never fail proves nothing.
    assert.match(
      violation(join(srcDir, 'local', 'x.ts'), join(srcDir, 'ops', 'cluster-api.js')) ?? '',
      /below/,
    );
    assert.match(violation(join(srcDir, 'kube', 'x.ts'), join(srcDir, 'local', 'y.js')) ?? '', /each other/);
    assert.match(violation(join(srcDir, 'core', 'x.ts'), join(srcDir, 'runtime', 'y.js')) ?? '', /below/);
    assert.equal(violation(join(srcDir, 'ops', 'x.ts'), join(srcDir, 'core', 'y.js')), undefined);
    assert.equal(violation(join(srcDir, 'agent', 'x.ts'), join(srcDir, 'kube', 'y.js')), undefined);
  });

  it('reads type-only imports, re-exports, import types and dynamic imports, literal or not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgops-layers-'));
    try {
      const file = join(dir, 'sample.ts');
      writeFileSync(
        file,
        [
          "import type { A } from '../ops/a.js';",
          "export { b } from './b.js';",
          "type C = typeof import('./c.js');",
          "const d = await import('../kube/d.js');",
          'const e = await import(name);',
          "// import { f } from './f.js';",
        ].join('\n'),
      );
      assert.deepEqual(specifiersOf(file), [
        { text: '../ops/a.js', line: 1 },
        { text: './b.js', line: 2 },
        { text: './c.js', line: 3 },
        { text: '../kube/d.js', line: 4 },
        { text: null, line: 5 },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
