/**
 * `postgres-ops --help | head`: a reader that goes away ends the command quietly, for both programs,
 * stdout and stderr, help, normal and JSON output: no EPIPE stack trace, the command's own exit code.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../support/tmp.js';
import { agentMain, opsMain } from '../support/tools.js';

interface Closed {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What was written to the stream left open. */
  other: string;
}

/** Runs the program with `close` (stdout or stderr) closed before it writes anything. */
function withClosed(
  main: string,
  args: string[],
  close: 'stdout' | 'stderr',
  env: NodeJS.ProcessEnv = {},
): Promise<Closed> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: tempDir('pgops-pipe-'), ...env },
    });
    child[close].destroy();
    let other = '';
    child[close === 'stdout' ? 'stderr' : 'stdout'].on('data', (c: Buffer) => (other += c.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, other }));
  });
}

describe('output to a pipe that was closed', () => {
  it('postgres-ops --help | head ends quietly with exit 0', async () => {
    const r = await withClosed(opsMain, ['--help'], 'stdout');
    assert.deepEqual(r, { code: 0, signal: null, other: '' });
  });

  it('postgres-agent --help | head ends quietly with exit 0', async () => {
    const r = await withClosed(agentMain, ['--help'], 'stdout');
    assert.deepEqual(r, { code: 0, signal: null, other: '' });
  });

  it('an error written to a closed stderr keeps its exit code and prints nothing else', async () => {
    const r = await withClosed(opsMain, ['status', '--bogus'], 'stderr');
    assert.deepEqual(r, { code: 2, signal: null, other: '' });
  });

  it('a JSON error on a closed stdout keeps its exit code; the message still reaches stderr once', async () => {
    const r = await withClosed(opsMain, ['status', '-o', 'json', '--bogus'], 'stdout');
    assert.equal(r.code, 2);
    assert.equal(
      r.other,
      "error: unknown option '--bogus'\nhint: See the usage: postgres-ops status --help\n",
    );
  });

  it('normal output (postgres-agent config) and JSON output (list-backups -o json) end quietly', async () => {
    const config = await withClosed(agentMain, ['config'], 'stdout');
    assert.deepEqual(config, { code: 0, signal: null, other: '' });
    const list = await withClosed(agentMain, ['list-backups', '-o', 'json'], 'stdout', {
      PGOPS_BACKUP_DIR: tempDir('pgops-pipe-backups-'),
      PGOPS_LOG_FORMAT: 'text',
    });
    assert.deepEqual(list, { code: 0, signal: null, other: '' });
  });

  it('log lines written to a closed stderr do not stop the agent half way', async () => {
    // prune logs each abandoned temporary file it deletes: two here, both must go.
    const dir = tempDir('pgops-pipe-backups-');
    const old = new Date(Date.now() - 3 * 3600_000);
    for (const f of ['.a.dump.partial', '.b.dump.partial']) {
      writeFileSync(join(dir, f), 'x');
      utimesSync(join(dir, f), old, old);
    }
    const r = await withClosed(agentMain, ['prune', '-o', 'json'], 'stderr', {
      PGOPS_BACKUP_DIR: dir,
      PGOPS_LOG_FORMAT: 'text',
    });
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.other).deleted, ['.a.dump.partial', '.b.dump.partial']);
    assert.deepEqual(readdirSync(dir), []);
  });
});
