/**
 * The agent's environment as a person sets it: PGOPS_DEBUG is a setting (stack traces, debug
 * lines), and an empty number is refused by name instead of silently becoming 0.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { tempDir } from '../support/tmp.js';
import { agentMain } from '../support/tools.js';

function agent(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [agentMain, ...args],
      { env: { PATH: process.env.PATH, PGOPS_LOG_FORMAT: 'text', ...env }, timeout: 30_000 },
      (err, _stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr }),
    );
  });
}

describe('postgres-agent environment switches', () => {
  it('PGOPS_DEBUG=1 is accepted and adds the stack trace to an error, as --debug does', async () => {
    const env = { PGOPS_BACKUP_DIR: tempDir('pgops-debug-') };
    const plain = await agent(['verify', 'missing-backup'], env);
    assert.equal(plain.code, 2);
    assert.match(plain.stderr, /^error: backup missing-backup not found/m);
    assert.doesNotMatch(plain.stderr, /^\s+at /m);
    const debug = await agent(['verify', 'missing-backup'], { ...env, PGOPS_DEBUG: '1' });
    assert.equal(debug.code, 2, debug.stderr);
    assert.match(debug.stderr, /^error: backup missing-backup not found/m);
    assert.match(debug.stderr, /^UsageError: backup missing-backup not found[^\n]*\n\s+at /m);
  });

  it('PGOPS_HEALTH_PORT="" is refused by name (exit 2) and the instance is not started', async () => {
    const data = tempDir('pgops-empty-port-');
    const r = await agent(['instance'], { PGDATA: `${data}/pgdata`, PGOPS_HEALTH_PORT: '' });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^PGOPS_HEALTH_PORT: is empty; expected a whole number/m);
    assert.deepEqual(readdirSync(data), []);
  });
});
