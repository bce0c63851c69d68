/**
 * The local mode's leader store: a single-node etcd on loopback, data under the state folder.
 * Patroni talks to it through its etcd3 section. Started by `local up`, stopped last by `local down`.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { OperationFailed, UsageError } from '../core/errors.js';
import { z } from 'zod';
import type { Output } from '../core/output.js';
import { httpJson } from '../runtime/ha/patroni-api.js';
import { baseEnv } from './agent.js';
import { runningPid, spawnDetached, stopPid, tailFile } from './processes.js';
import { ensureDir, type LocalState, StatePaths } from './state.js';

/** etcd's GET /health answer. */
const etcdHealthSchema = z.looseObject({ health: z.string().optional() });

export const ETCD_PROC = 'etcd';

export function findEtcd(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'etcd');
    if (dir && existsSync(p)) return p;
  }
  return existsSync('/usr/bin/etcd') ? '/usr/bin/etcd' : undefined;
}

export function etcdHosts(state: LocalState): string {
  return `127.0.0.1:${state.etcd.clientPort}`;
}

export function etcdPid(root: string): number | undefined {
  return runningPid(new StatePaths(root).pidFile(ETCD_PROC), 'etcd');
}

async function healthy(state: LocalState): Promise<boolean> {
  try {
    const r = await httpJson(
      `http://127.0.0.1:${state.etcd.clientPort}/health`,
      'GET',
      undefined,
      undefined,
      2000,
    );
    return r.status === 200 && etcdHealthSchema.safeParse(r.body).data?.health === 'true';
  } catch {
    return false;
  }
}

/** Starts etcd unless it runs; waits until it answers. Returns true when it had to be started. */
export async function ensureEtcd(root: string, state: LocalState, out: Output): Promise<boolean> {
  const p = new StatePaths(root);
  if (etcdPid(root) && (await healthy(state))) return false;
  const bin = findEtcd();
  if (!bin)
    throw new UsageError(
      'E_NO_ETCD',
      'etcd is not installed: local mode keeps the leader record of its members in a local etcd',
      {},
      { hint: 'Install it: sudo bash scripts/install-system-deps.sh (Debian: etcd-server)' },
    );
  const dataDir = join(root, 'etcd');
  ensureDir(dataDir, 0o700);
  const client = `http://127.0.0.1:${state.etcd.clientPort}`;
  const peer = `http://127.0.0.1:${state.etcd.peerPort}`;
  const pid = spawnDetached({
    file: bin,
    args: [
      '--name',
      'pgops',
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `pgops=${peer}`,
      '--initial-cluster-state',
      'new',
      // A single local node: no need for the default 100 ms heartbeats' disk pressure.
      '--snapshot-count',
      '10000',
    ],
    env: baseEnv({ ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? undefined : process.arch }),
    logFile: p.logFile(ETCD_PROC),
    pidFile: p.pidFile(ETCD_PROC),
    cwd: root,
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await healthy(state)) {
      out.line(`etcd: started (pid ${pid}, ${client})`);
      return true;
    }
    if (!etcdPid(root)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new OperationFailed(
    'E_ETCD_START',
    `etcd did not start:\n${tailFile(p.logFile(ETCD_PROC))}`,
    { log: p.logFile(ETCD_PROC) },
    { hint: `Read ${p.logFile(ETCD_PROC)}; then run postgres-ops local up again.` },
  );
}

export async function stopEtcd(root: string): Promise<boolean> {
  const pid = etcdPid(root);
  if (!pid) return false;
  await stopPid(pid, 15_000);
  return true;
}

/**
 * Removes the cluster's keys from etcd (the leader record, members, the system identifier), so that
 * Patroni takes a restored data directory as a new cluster instead of refusing its identifier.
 */
export async function forgetCluster(state: LocalState, scope: string): Promise<void> {
  const prefix = `/service/${scope}/`;
  const key = Buffer.from(prefix).toString('base64');
  const end = Buffer.from(
    prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1),
  ).toString('base64');
  const r = await httpJson(
    `http://127.0.0.1:${state.etcd.clientPort}/v3/kv/deleterange`,
    'POST',
    { key, range_end: end },
    undefined,
    5000,
  );
  if (r.status !== 200)
    throw new OperationFailed(
      'E_ETCD',
      `could not clear the cluster's keys in etcd: ${r.status} ${String(r.body)}`,
    );
}
