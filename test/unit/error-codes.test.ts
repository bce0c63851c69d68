import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { errorCodes, relayedCode, type ErrorCodeEntry } from '../../src/core/error-codes.js';
import { errorsDocPath, renderErrorsDoc } from '../../scripts/errors-doc.js';
import { repoRoot } from '../support/tools.js';

const registry = errorCodes as Record<string, ErrorCodeEntry>;
const classExit: Record<string, 1 | 2 | 3 | undefined> = {
  OperationFailed: 1,
  UsageError: 2,
  SafetyRefusal: 3,
  OpsError: undefined, // its exit status is its third argument
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

interface Site {
  code: string;
  cls: string;
  /** The exit status the site gives, when it is a literal; `relay` when computed. */
  exit: 1 | 2 | 3 | 'relay';
  where: string;
}

/** The string literals an expression can evaluate to, following a `const` in the same file. */
function literalsOf(expr: ts.Expression, sf: ts.SourceFile): string[] {
  if (ts.isStringLiteral(expr)) return [expr.text];
  if (ts.isParenthesizedExpression(expr)) return literalsOf(expr.expression, sf);
  if (ts.isConditionalExpression(expr))
    return [...literalsOf(expr.whenTrue, sf), ...literalsOf(expr.whenFalse, sf)];
  if (ts.isIdentifier(expr)) {
    let found: string[] = [];
    const visit = (n: ts.Node): void => {
      if (
        ts.isVariableDeclaration(n) &&
        ts.isIdentifier(n.name) &&
        n.name.text === expr.text &&
        n.initializer
      )
        found = literalsOf(n.initializer, sf);
      ts.forEachChild(n, visit);
    };
    visit(sf);
    return found;
  }
  return [];
}

/** Every `new UsageError|SafetyRefusal|OperationFailed|OpsError(code, ...)` in src/ whose code is known. */
function scanSources(): { sites: Site[]; literals: Map<string, string[]> } {
  const sites: Site[] = [];
  const literals = new Map<string, string[]>();
  for (const file of sourceFiles(join(repoRoot, 'src'))) {
    const where = relative(repoRoot, file);
    if (where === join('src', 'core', 'error-codes.ts')) continue;
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node): void => {
      if (ts.isStringLiteral(n) && /^E_[A-Z0-9_]+$/.test(n.text)) {
        const p = n.parent;
        const compared =
          ts.isBinaryExpression(p) &&
          [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken].includes(
            p.operatorToken.kind,
          );
        if (!compared) literals.set(n.text, [...(literals.get(n.text) ?? []), where]);
      }
      if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text in classExit) {
        const cls = n.expression.text;
        const [codeArg, , exitArg] = n.arguments ?? [];
        const line = sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
        const exit =
          classExit[cls] ??
          (exitArg && ts.isNumericLiteral(exitArg) ? (Number(exitArg.text) as 1 | 2 | 3) : 'relay');
        for (const code of codeArg ? literalsOf(codeArg, sf) : [])
          sites.push({ code, cls, exit, where: `${where}:${line}` });
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return { sites, literals };
}

describe('the error code registry', () => {
  const { sites, literals } = scanSources();

  it('registers every code the product throws, and every registered code is thrown somewhere', () => {
    assert.ok(sites.length > 200, `only ${sites.length} construction sites found: the scan is broken`);
    const unregistered = sites.filter((s) => !(s.code in registry)).map((s) => `${s.code} at ${s.where}`);
    assert.deepEqual(unregistered, []);
    const dead = Object.keys(registry).filter((code) => !literals.has(code));
    assert.deepEqual(dead, [], 'codes registered but never used in src/');
  });

  it('gives each code the exit status of the class that throws it', () => {
    const wrong = sites
      .filter((s) => s.exit !== 'relay' && s.exit !== registry[s.code]?.exit)
      .map(
        (s) =>
          `${s.code}: ${s.cls} (exit ${s.exit}) at ${s.where}, registered with exit ${registry[s.code]?.exit}`,
      );
    assert.deepEqual(wrong, []);
  });

  it('lets only codes marked as relayed take an exit status computed at run time', () => {
    const relaying = sites
      .filter((s) => s.exit === 'relay' && !registry[s.code]?.relayed)
      .map((s) => `${s.code} at ${s.where}`);
    assert.deepEqual(relaying, []);
  });

  it('passes on the code an agent reports, even one this build does not register, and E_AGENT when it gives none', () => {
    assert.equal(relayedCode('E_CHECKSUM', 'E_AGENT'), 'E_CHECKSUM');
    assert.equal(relayedCode('E_FROM_A_NEWER_AGENT', 'E_AGENT'), 'E_FROM_A_NEWER_AGENT');
    assert.equal(relayedCode(undefined, 'E_AGENT'), 'E_AGENT');
  });

  it('docs/errors.md lists every code as the registry has it (npx tsx scripts/errors-doc.ts)', () => {
    assert.equal(readFileSync(errorsDocPath, 'utf8'), renderErrorsDoc());
  });
});
