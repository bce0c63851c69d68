/**
 * postgres-ops in local mode for tests: runs the built CLI against one state folder, connects to
 * its instances as the superuser, and makes sure every process it started is gone at cleanup (even
 * when a test fails or kills a command part way).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { onCleanup } from './cleanup.js';
import { opsMain } from './tools.js';

export interface OpsRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface LocalOps {
  stateDir: string;
  run(args: string[]): Promise<OpsRun>;
  json<T>(args: string[]): Promise<T>;
  state(): { primary: string; instances: { name: string; port: number; healthPort: number }[] };
  dataDir(instance: string): string;
  /** A superuser client on an instance (default: the primary), database default pyairtable. */
  connect(database?: string, instance?: string): Promise<pg.Client>;
  query<T = Record<string, unknown>>(sql: string, database?: string): Promise<T[]>;
}

/** Kills whatever the state folder's pid files and postmaster.pid files name. */
export function killLocalProcesses(dir: string) {
  const pids: number[] = [];
  let names: string[] = ['exporter'];
  try {
    const s = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { instances: { name: string }[] };
    names = [...names, ...s.instances.map((i) => i.name)];
  } catch {
    names = [...names, 'postgres-0', 'postgres-1'];
  }
  for (const f of names) {
    for (const file of [join(dir, 'run', `${f}.pid`), join(dir, 'data', f, 'postmaster.pid')]) {
      try {
        pids.push(Number(readFileSync(file, 'utf8').split('\n')[0]!.trim()));
      } catch {
        /* none */
      }
    }
  }
  for (const p of pids) {
    try {
      if (p > 0) process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export function localOps(stateDir: string): LocalOps {
  onCleanup(
    `local destroy ${stateDir}`,
    async () => {
      if (existsSync(join(stateDir, 'state.json'))) await ops.run(['local', 'destroy', '--yes']);
      killLocalProcesses(stateDir);
    },
    () => killLocalProcesses(stateDir),
  );
  const ops: LocalOps = {
    stateDir,
    run(args) {
      return new Promise((resolve) => {
        execFile(
          process.execPath,
          [opsMain, ...args, '--state-dir', stateDir],
          { env: { ...process.env }, maxBuffer: 32 * 1024 * 1024, timeout: 300_000 },
          (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      });
    },
    async json<T>(args: string[]) {
      const r = await ops.run([...args, '-o', 'json']);
      if (r.code !== 0) throw new Error(`postgres-ops ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    },
    state() {
      return JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8'));
    },
    dataDir: (instance) => join(stateDir, 'data', instance),
    async connect(database = 'pyairtable', instance?: string) {
      const s = ops.state();
      const inst = s.instances.find((i) => i.name === (instance ?? s.primary))!;
      const c = new pg.Client({
        host: '127.0.0.1',
        port: inst.port,
        user: 'postgres',
        password: readFileSync(join(stateDir, 'secrets', 'superuser-password'), 'utf8').trim(),
        database,
      });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    },
    async query<T>(sql: string, database?: string) {
      const c = await ops.connect(database);
      try {
        return (await c.query(sql)).rows as T[];
      } finally {
        await c.end();
      }
    },
  };
  return ops;
}
