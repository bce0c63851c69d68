/**
 * A backup stopped by a person (Ctrl-C: SIGINT to the whole process group) or by Kubernetes (SIGTERM
 * to the agent alone) stops its programs, removes every temporary file, records the outcome in
 * pgops.backup_history, releases the backup lock and exits 1; nothing is listed. (SIGKILL cannot be
 * caught: backup-faults.test.ts covers the next run's cleanup for it.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanupAll, onCleanup } from '../support/cleanup.js';
import { eventually } from '../support/eventually.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import { backupAgentEnv, runAgentSync } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';
import { agentMain, repoRoot } from '../support/tools.js';

after(cleanupAll);

/** Bytes the running backup has written so far: its archive and pg_dump's directory, if any. */
function written(dir: string, name: string): number {
  let n = 0;
  for (const p of [`.${name}.dump.partial`, `.${name}.dump.d.partial`]) {
    const path = join(dir, p);
    if (!existsSync(path)) continue;
    const st = statSync(path);
    if (st.isFile()) n += st.size;
    else
      for (const f of readdirSync(path)) n += statSync(join(path, f), { throwIfNoEntry: false })?.size ?? 0;
  }
  return n;
}

interface Interrupted {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Starts `postgres-agent backup` (or `command`, which runs it), waits until pg_dump has streamed
 * over 1 MB, then signals it.
 */
async function interruptBackup(
  pg: PgServer,
  dir: string,
  name: string,
  extraArgs: string[],
  send: (pid: number) => void,
  command: string[] = [agentMain, 'backup', '--name', name, ...extraArgs],
): Promise<Interrupted> {
  const child = spawn(process.execPath, command, {
    cwd: repoRoot,
    // Its own process group, as a command started from a shell: Ctrl-C signals the whole group.
    detached: true,
    env: backupAgentEnv(pg, dir, { PGOPS_BACKUP_COMPRESSION: '9' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onCleanup(`kill backup ${name}`, () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('close', (code, signal) => r({ code, signal })),
  );
  await eventually(
    'pg_dump has streamed 1 MiB, or the agent ended',
    () => child.exitCode !== null || written(dir, name) >= 1024 * 1024,
    { timeoutMs: 30_000, intervalMs: 10 },
  );
  assert.ok(written(dir, name) >= 1024 * 1024, `pg_dump was streaming when the signal came\n${stderr}`);
  send(child.pid!);
  const { code, signal } = await exited;
  return { code, signal, stderr };
}

async function assertCleanlyStopped(pg: PgServer, dir: string, name: string, r: Interrupted, sig: string) {
  assert.equal(r.signal, null, `the agent exits by itself after cleaning up\n${r.stderr}`);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`error: backup ${name} failed: interrupted by ${sig}`));
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes(name)),
    [],
    'no temporary file, no archive, no manifest is left',
  );
  const [h] = await pg.query<{ status: string; error: string }>(
    `SELECT status, error FROM pgops.backup_history WHERE name = $1 ORDER BY id DESC LIMIT 1`,
    [name],
  );
  assert.equal(h?.status, 'failure');
  assert.match(h.error, new RegExp(`interrupted by ${sig}`));
  const list = JSON.parse(runAgentSync(['list-backups', '-o', 'json'], backupAgentEnv(pg, dir)).stdout);
  assert.ok(!list.some((b: { name: string }) => b.name === name), 'list-backups never shows it');
  // Nothing of it still runs: no pg_dump, no row count left connected to the database.
  let left = -1;
  await eventually(
    'pg_dump and the row counts stopped with the agent (no session left on the database)',
    async () => {
      left = Number(
        (
          await pg.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'app' AND pid <> pg_backend_pid()`,
            [],
            'postgres',
          )
        )[0]!.n,
      );
      return left === 0;
    },
    { timeoutMs: 5000, intervalMs: 50, detail: () => `${left} left` },
  );
  assert.equal(left, 0, 'pg_dump and the row counts stopped with the agent');
  // The lock is released and nothing needs cleaning up: the next backup just runs.
  const next = runAgentSync(['backup', '--name', `${name}-next`], backupAgentEnv(pg, dir));
  assert.equal(next.code, 0, next.stderr);
  assert.doesNotMatch(next.stderr, /left by an interrupted backup/);
}

describe('backup interrupted by a signal', () => {
  let pg: PgServer;
  before(async () => {
    pg = await startPostgres();
    await pg.query('CREATE DATABASE app');
    // About 40 MB of poorly compressible text in two tables: at -Z9 pg_dump streams for seconds.
    for (const t of ['big_a', 'big_b'])
      await pg.query(
        `CREATE TABLE ${t} AS SELECT i, md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text) AS t
           FROM generate_series(1, 200000) i`,
        [],
        'app',
      );
  });

  it('stops on Ctrl-C (SIGINT to its process group), removes its temporary files and records the interruption', async () => {
    const dir = tempDir();
    const r = await interruptBackup(pg, dir, 'ctrl-c', [], (pid) => process.kill(-pid, 'SIGINT'));
    await assertCleanlyStopped(pg, dir, 'ctrl-c', r, 'SIGINT');
  });

  it('stops a parallel backup on SIGTERM to the agent alone, removing pg_dump directory and archive', async () => {
    const dir = tempDir();
    const r = await interruptBackup(pg, dir, 'sigterm', ['--jobs', '2'], (pid) =>
      process.kill(pid, 'SIGTERM'),
    );
    await assertCleanlyStopped(pg, dir, 'sigterm', r, 'SIGTERM');
  });

  it('lets the agent stop cleanly when postgres-ops, running it in local mode, gets SIGTERM', async () => {
    const dir = tempDir();
    // What LocalCluster.backup does: run the agent and pass stop signals on to it.
    const ops = `
      const { runAgentJson } = await import(${JSON.stringify(join(repoRoot, 'dist', 'local', 'agent.js'))});
      try {
        await runAgentJson({ args: ['backup', '--name', 'from-ops'], env: process.env, forwardSignals: true });
      } catch (e) {
        process.stderr.write('error: ' + e.message + '\\n');
        process.exitCode = 1;
      }`;
    const r = await interruptBackup(pg, dir, 'from-ops', [], (pid) => process.kill(pid, 'SIGTERM'), [
      '--input-type=module',
      '-e',
      ops,
    ]);
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /postgres-agent backup: backup from-ops failed: interrupted by SIGTERM/);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('from-ops')),
      [],
    );
    const [h] = await pg.query<{ error: string }>(
      `SELECT error FROM pgops.backup_history WHERE name = 'from-ops' ORDER BY id DESC LIMIT 1`,
    );
    assert.match(h!.error, /interrupted by SIGTERM/);
  });
});
