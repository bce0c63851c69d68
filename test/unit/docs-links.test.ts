/**
 * Paths to documentation that hints and docs give people must exist: every `docs/NAME.md` (with its
 * `#anchor`) mentioned in src/, the docs and the README, and every relative link between docs.
 * docs/configuration.md is generated from the settings schema and must be current.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { configDocPath, renderConfigDoc } from '../../scripts/config-doc.js';
import { repoRoot } from '../support/tools.js';

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name), ext) : ext.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** GitHub's anchors: headings lowercased, punctuation dropped, spaces to dashes. */
function anchorsOf(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6} +(.+?) *$/gm))
    out.add(
      m[1]!
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    );
  return out;
}

/** Problems with `target` (a path relative to the repository root, maybe with #anchor). */
function checkTarget(target: string): string | undefined {
  const [path, anchor] = target.split('#') as [string, string | undefined];
  const file = join(repoRoot, path);
  if (!existsSync(file)) return `${path} does not exist`;
  if (anchor && path.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(anchor))
    return `${path} has no heading for #${anchor}`;
  return undefined;
}

const DOC_PATH = /(?<![\w/.-])docs\/[A-Za-z0-9_-]+\.md(?:#[a-z0-9-]+)?/g;

describe('documentation paths', () => {
  it('finds a path to a page that does not exist', () => {
    assert.equal(
      checkTarget('docs/configuration-missing.md'),
      'docs/configuration-missing.md does not exist',
    );
    assert.equal(
      checkTarget('docs/monitoring.md#no-such-alert'),
      'docs/monitoring.md has no heading for #no-such-alert',
    );
    assert.equal(checkTarget('docs/monitoring.md#postgresqlreplicationslotinactive'), undefined);
  });

  it('every docs/*.md named in src/, the docs, the README and the chart exists, anchors too', () => {
    const files = [
      ...filesUnder(join(repoRoot, 'src'), /\.ts$/),
      ...filesUnder(join(repoRoot, 'docs'), /\.md$/),
      join(repoRoot, 'README.md'),
      ...filesUnder(join(repoRoot, 'helm'), /\.(md|txt|yaml|tpl)$/),
    ];
    const problems: string[] = [];
    for (const f of files)
      for (const m of readFileSync(f, 'utf8').matchAll(DOC_PATH)) {
        const p = checkTarget(m[0]);
        if (p) problems.push(`${relative(repoRoot, f)}: ${p}`);
      }
    assert.deepEqual(problems, []);
  });

  it('every relative link in the docs and the README points at a file that exists', () => {
    const files = [...filesUnder(join(repoRoot, 'docs'), /\.md$/), join(repoRoot, 'README.md')];
    const problems: string[] = [];
    for (const f of files)
      for (const m of readFileSync(f, 'utf8').matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1]!;
        if (/^[a-z]+:/.test(link) || link.startsWith('#')) continue;
        const p = checkTarget(relative(repoRoot, resolve(dirname(f), link)));
        if (p) problems.push(`${relative(repoRoot, f)}: ${link}: ${p}`);
      }
    assert.deepEqual(problems, []);
  });

  it('docs/configuration.md lists every agent setting as the schema has it (npx tsx scripts/config-doc.ts)', () => {
    assert.equal(readFileSync(configDocPath, 'utf8'), renderConfigDoc());
  });
});
