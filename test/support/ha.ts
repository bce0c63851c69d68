/**
 * High-availability clusters for tests: the product's own local mode (a real etcd, real
 * `postgres-agent instance` members running PostgreSQL under real Patroni) in a temp state folder,
 * with the tools fault tests need: kill -9 of a member's processes, a write load that records every
 * acknowledged commit, a poller that records which members accept writes, and sync cleanup that
 * leaves nothing running even when a test fails.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Output } from '../../src/core/output.js';
import { LocalCluster } from '../../src/local/cluster.js';
import { localDown, localUp, type UpOptions } from '../../src/local/lifecycle.js';
import { readState, StatePaths, type LocalState } from '../../src/local/state.js';
import { cleanupAll, onCleanup } from './cleanup.js';
import { eventually, sleep } from './eventually.js';
import { tempDir } from './tmp.js';
import { opsMain } from './tools.js';

export { cleanupAll };

/** Patroni timings for tests: a lease of 12 s instead of 30 keeps failover tests short. */
export const FAST_HA = { ttl: 12, loopWait: 2, retryTimeout: 5 };

export { sleep } from './eventually.js';

/** Everything a test cluster runs: pids whose command line or working directory is under `dir`. */
export function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${d}/cwd`);
      } catch {
        /* no access */
      }
      if (cmd.includes(dir) || cwd.startsWith(dir)) pids.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return pids;
}

export function killAllUnderSync(dir: string) {
  for (const pid of processesUnder(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export const quietOutput: Output = {
  line: (s: string) => {
    if (process.env.PGOPS_TEST_VERBOSE) process.stderr.write(s + '\n');
  },
  result: () => undefined,
  raw: (s: string) => {
    if (process.env.PGOPS_TEST_VERBOSE) process.stderr.write(s);
  },
};

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class HaCluster {
  constructor(readonly stateDir: string) {}

  get paths() {
    return new StatePaths(this.stateDir);
  }

  state(): LocalState {
    return readState(this.stateDir);
  }

  cluster(): LocalCluster {
    return new LocalCluster(this.stateDir);
  }

  names(): string[] {
    return this.state().instances.map((i) => i.name);
  }

  port(name: string): number {
    return this.state().instances.find((i) => i.name === name)!.port;
  }

  password(name: 'superuser-password' | 'app-password' = 'superuser-password'): string {
    return readFileSync(this.paths.secret(name), 'utf8').trim();
  }

  async connect(name: string, database = 'postgres', timeoutMs = 3000): Promise<pg.Client> {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: this.port(name),
      user: 'postgres',
      password: this.password(),
      database,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
    });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  async query<T = Record<string, unknown>>(name: string, sql: string, database = 'postgres'): Promise<T[]> {
    const c = await this.connect(name, database, 60_000);
    try {
      return (await c.query(sql)).rows as T[];
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** Members whose PostgreSQL answers and is not in recovery, right now. */
  async writable(): Promise<string[]> {
    const answers = await Promise.all(
      this.names().map(async (n) => {
        try {
          const c = await this.connect(n, 'postgres', 1000);
          try {
            const r = await c.query('SELECT pg_is_in_recovery() AS r');
            return r.rows[0].r === false ? n : undefined;
          } finally {
            await c.end().catch(() => undefined);
          }
        } catch {
          return undefined;
        }
      }),
    );
    return answers.filter((x): x is string => x !== undefined);
  }

  async leader(timeoutMs = 120_000): Promise<string> {
    let w: string[] = [];
    return eventually(
      'a single member is writable',
      async () => {
        w = await this.writable();
        return w.length === 1 ? w[0] : undefined;
      },
      { timeoutMs, intervalMs: 250, detail: () => `writable: ${w.join(', ') || 'none'}` },
    );
  }

  /** The leader, and another member once it streams from it. */
  async leaderAndStreamingReplica(): Promise<{ leader: string; replica: string }> {
    const leader = await this.leader();
    const replica = this.names().find((n) => n !== leader)!;
    await this.waitStreaming(replica);
    return { leader, replica };
  }

  /** Waits until `name` is a replica that streams. */
  async waitStreaming(name: string, timeoutMs = 120_000) {
    let last: unknown;
    await eventually(
      `${name} streams`,
      async () => {
        const [r] = await this.query<{ r: boolean; s: string | null }>(
          name,
          'SELECT pg_is_in_recovery() AS r, (SELECT status FROM pg_stat_wal_receiver) AS s',
        ).catch((err: Error) => [err.message]);
        last = r;
        return typeof r === 'object' && r?.r === true && r.s === 'streaming';
      },
      { timeoutMs, intervalMs: 300, detail: () => JSON.stringify(last) },
    );
  }

  /**
   * Waits until Patroni names a synchronous standby: until then (Patroni picks one on its next
   * loop after a replica streams) commits are acknowledged without one.
   */
  async waitSyncStandby(timeoutMs = 60_000): Promise<string> {
    return eventually(
      'Patroni names a synchronous standby',
      async () => (await this.cluster().ha())?.synchronousStandby[0],
      { timeoutMs, intervalMs: 250 },
    );
  }

  agentPid(name: string): number | undefined {
    try {
      return Number(readFileSync(this.paths.pidFile(name), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  patroniPid(name: string): number | undefined {
    const yaml = join(this.paths.instanceRunDir(name), 'pgops', 'patroni.yml');
    return processesUnder(yaml)[0];
  }

  postmasterPid(name: string): number | undefined {
    try {
      const pid = Number(
        readFileSync(join(this.paths.dataDir(name), 'postmaster.pid'), 'utf8').split('\n')[0],
      );
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  /** The walreceiver process of a member (its postmaster's child). */
  walReceiverPid(name: string): number | undefined {
    const pm = this.postmasterPid(name);
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pm && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('walreceiver'))
          return Number(d);
      } catch {
        /* gone */
      }
    }
    return undefined;
  }

  etcdPid(): number | undefined {
    try {
      return Number(readFileSync(this.paths.pidFile('etcd'), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  /** kill -9 of everything a member runs, as when its node dies. */
  /** Waits until the postmasters of `names` are gone (a killed one is reaped within moments). */
  async waitPostmastersGone(...names: string[]): Promise<void> {
    await eventually(
      `the postmaster of ${names.join(', ')} is gone`,
      () => names.every((n) => !this.postmasterPid(n)),
      { timeoutMs: 5000, intervalMs: 50 },
    );
  }

  kill9Member(name: string) {
    for (const pid of [this.agentPid(name), this.patroniPid(name), this.postmasterPid(name)])
      if (pid)
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
  }

  /** Runs postgres-ops against this state folder. */
  ops(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [opsMain, ...args, '--state-dir', this.stateDir],
        { env: { ...process.env, ...env }, maxBuffer: 32 * 1024 * 1024, timeout: 600_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  async up(opts: Partial<UpOptions> = {}) {
    return localUp(this.stateDir, { release: 'pyairtable-stack', ...opts }, quietOutput);
  }

  async down() {
    return localDown(this.stateDir, quietOutput);
  }

  logs(name: string): string {
    try {
      return readFileSync(this.paths.logFile(name), 'utf8');
    } catch {
      return '';
    }
  }
}

/**
 * A new cluster in a temp state folder, stopped (and every process under it killed) at cleanup.
 * `prepare` gets the state folder (created, still empty) before the first start.
 */
export async function startHaCluster(
  opts: Partial<UpOptions> = {},
  prepare?: (stateDir: string) => void,
): Promise<HaCluster> {
  const dir = join(tempDir('pgops-ha-'), 'state');
  if (prepare) {
    mkdirSync(dir, { recursive: true });
    prepare(dir);
  }
  const c = new HaCluster(dir);
  onCleanup(
    `stop the cluster in ${dir}`,
    async () => {
      await c.down().catch(() => undefined);
      killAllUnderSync(dir);
    },
    () => killAllUnderSync(dir),
  );
  await c.up({ ha: FAST_HA, ...opts });
  return c;
}

export interface Ack {
  id: number;
  member: string;
  at: number;
}

/**
 * Inserts rows one after the other into `ha_load` on whichever member accepts writes, recording
 * each acknowledged commit (id, member, time). A commit that errors or times out is not counted:
 * it may or may not be there, and the test only checks that every acknowledged one is.
 */
export class WriteLoad {
  readonly acks: Ack[] = [];
  errors = 0;
  private stopped = false;
  private done: Promise<void> | undefined;

  constructor(private readonly c: HaCluster) {}

  async start() {
    const leader = await this.c.leader();
    await this.c.query(
      leader,
      'CREATE TABLE IF NOT EXISTS ha_load (id bigint PRIMARY KEY, member text, at timestamptz DEFAULT now())',
    );
    this.done = this.loop();
  }

  private async loop() {
    let id = 0;
    let client: pg.Client | undefined;
    let member = '';
    let failed = '';
    while (!this.stopped) {
      if (!client) {
        const w = await this.c.writable();
        if (w.length === 0) {
          await sleep(100);
          continue;
        }
        // Two members may claim to be primary for a while: after a failure, try the other one.
        member = w.find((m) => m !== failed) ?? w[0]!;
        try {
          client = await this.c.connect(member, 'postgres', 2000);
        } catch {
          client = undefined;
          continue;
        }
      }
      id++;
      try {
        await client.query('INSERT INTO ha_load (id, member) VALUES ($1, $2)', [id, member]);
        this.acks.push({ id, member, at: Date.now() });
      } catch {
        this.errors++;
        failed = member;
        await client.end().catch(() => undefined);
        client = undefined;
      }
    }
    await client?.end().catch(() => undefined);
  }

  async stop() {
    this.stopped = true;
    await this.done;
  }

  /** Acknowledged ids that are not on `member` (after the cluster settled). */
  async lost(member: string): Promise<number[]> {
    const rows = await this.c.query<{ id: string }>(member, 'SELECT id FROM ha_load');
    const present = new Set(rows.map((r) => Number(r.id)));
    return this.acks.filter((a) => !present.has(a.id)).map((a) => a.id);
  }
}

/** Every 200 ms, which members accept writes; a moment with two is a split brain. */
export class WritablePoller {
  readonly samples: { at: number; writable: string[] }[] = [];
  private stopped = false;
  private done: Promise<void> | undefined;

  constructor(private readonly c: HaCluster) {}

  start() {
    this.done = (async () => {
      while (!this.stopped) {
        const at = Date.now();
        this.samples.push({ at, writable: await this.c.writable() });
        await sleep(Math.max(0, 200 - (Date.now() - at)));
      }
    })();
  }

  async stop() {
    this.stopped = true;
    await this.done;
  }

  splitBrain() {
    return this.samples.filter((s) => s.writable.length > 1);
  }

  /** When `member` was first seen accepting writes after `after`. */
  firstWritable(member: string, after: number): number | undefined {
    return this.samples.find((s) => s.at > after && s.writable.includes(member))?.at;
  }
}

/**
 * A write load and a writable-members poller on `c`, both running, stopped at cleanup if the test
 * fails before it stops them; `stop()` stops both (twice is harmless).
 */
export async function startLoadAndPoller(
  c: HaCluster,
): Promise<{ load: WriteLoad; poller: WritablePoller; stop: () => Promise<void> }> {
  const load = new WriteLoad(c);
  const poller = new WritablePoller(c);
  await load.start();
  poller.start();
  const stop = async () => {
    await load.stop();
    await poller.stop();
  };
  onCleanup('stop the load', stop);
  return { load, poller, stop };
}
