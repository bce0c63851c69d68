/**
 * The output host: the one module that writes to the process's stdout and stderr, the
 * confirmation destructive commands ask, and the two spellings of a result document.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { SafetyRefusal } from '../../src/core/errors.js';
import { consoleOutput, formatDocument } from '../../src/runtime/output-host.js';
import { repoRoot } from '../support/tools.js';

const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );

describe('output host', () => {
  it('is the only module of src/ that writes to process.stdout or process.stderr', () => {
    const writers = files(join(repoRoot, 'src'))
      .filter((f) => !f.endsWith(join('runtime', 'output-host.ts')))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${relative(repoRoot, f)}:${i + 1}` }))
          .filter(({ line }) => /process\.(stdout|stderr)\.write|console\.\w+\(/.test(line))
          .map(({ at, line }) => `${at}: ${line.trim()}`),
      );
    assert.deepEqual(writers, []);
  });

  it('refuses a confirmation without a terminal (exit 3), naming the command to re-run with --yes', async () => {
    // The test runner's stdin is not a terminal.
    const host = consoleOutput();
    assert.equal(host.isInteractive(), false);
    await assert.rejects(
      host.confirm({ action: 'replace database pyairtable', retry: 'postgres-ops restore nightly' }),
      (e: unknown) => {
        assert.ok(e instanceof SafetyRefusal);
        assert.equal(e.exitCode, 3);
        assert.equal(e.code, 'E_UNCONFIRMED');
        assert.match(e.message, /^refusing to replace database pyairtable without confirmation/);
        assert.equal(e.hint, 'Nothing was changed. To go ahead, run: postgres-ops restore nightly --yes');
        return true;
      },
    );
    await host.confirm({ action: 'replace database pyairtable', retry: 'x', yes: true });
  });

  it('spells a result document as JSON or YAML, the same object either way', () => {
    const doc = { name: 'nightly', verified: true, sizeBytes: 1536, warnings: [], backup: null };
    assert.deepEqual(JSON.parse(formatDocument(doc, 'json')), doc);
    assert.deepEqual(parse(formatDocument(doc, 'yaml')), doc);
  });
});
