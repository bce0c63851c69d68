/**
 * The Kubernetes adapter and the whole `postgres-agent snapshot` binary, over HTTP: a small server
 * on loopback answers the VolumeSnapshot part of the Kubernetes API (no API server can run here)
 * the way kube-apiserver and the snapshot controller do, and PostgreSQL is real. This checks the
 * client library's real requests (paths, verbs, merge-patch) and the wiring from env to exit code.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { VolumeSnapshot } from '../../src/core/snapshot/model.js';
import { cleanupAll } from '../support/cleanup.js';
import { sendJson, sendStatus, startStandInApi, type Route } from '../support/kube-api.js';
import { writeKubeconfig } from '../support/kubeconfig.js';
import { startPostgres, TEST_PASSWORD, type PgServer } from '../support/postgres.js';
import { agentEnv, runAgent } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

const NS = 'pyairtable';
const BASE = `/apis/snapshot.storage.k8s.io/v1/namespaces/${NS}/volumesnapshots`;

interface FakeApi {
  url: string;
  objects: Map<string, VolumeSnapshot>;
  requests: string[];
  /** Verbs answered with 403, as RBAC does when the Role lacks them ('get endpoints' for the leader record). */
  forbid: Set<string>;
  /** Patroni's leader Endpoints (pyairtable-stack-postgres), as the members write them; null: none. */
  leader: { member: string | null; ip: string } | null;
}

const LEADER_ENDPOINTS = `/api/v1/namespaces/${NS}/endpoints/pyairtable-stack-postgres`;

async function startFakeKubeApi(): Promise<FakeApi> {
  const objects = new Map<string, VolumeSnapshot>();
  const polls = new Map<string, number>();
  const requests: string[] = [];
  const forbid = new Set<string>();
  // The test server listens on 127.0.0.1: that is the leader's address here.
  const api = { leader: { member: 'pyairtable-stack-postgres-0', ip: '127.0.0.1' } as FakeApi['leader'] };
  const handle = (req: Parameters<Route>[0], res: ServerResponse, body: string) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(
      `${req.method} ${url.pathname}${req.headers['content-type'] === 'application/merge-patch+json' ? ' merge-patch' : ''}`,
    );
    if (url.pathname === LEADER_ENDPOINTS && req.method === 'GET') {
      if (forbid.has('get endpoints'))
        return sendStatus(
          res,
          403,
          'Forbidden',
          `endpoints "pyairtable-stack-postgres" is forbidden: User "system:serviceaccount:${NS}:snap" cannot get resource "endpoints"`,
        );
      if (!api.leader)
        return sendStatus(res, 404, 'NotFound', 'endpoints "pyairtable-stack-postgres" not found');
      return sendJson(res, {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: {
          name: 'pyairtable-stack-postgres',
          namespace: NS,
          annotations: api.leader.member ? { leader: api.leader.member, ttl: '30' } : {},
        },
        subsets: api.leader.member
          ? [{ addresses: [{ ip: api.leader.ip }], ports: [{ name: 'postgresql', port: 5432 }] }]
          : [],
      });
    }
    if (!url.pathname.startsWith(BASE))
      return sendStatus(res, 404, 'NotFound', `the server could not find the requested resource`);
    const name = url.pathname.slice(BASE.length + 1) || undefined;
    const verb = req.method === 'GET' ? (name ? 'get' : 'list') : (req.method ?? '').toLowerCase();
    if (forbid.has(verb === 'post' ? 'create' : verb))
      return sendStatus(
        res,
        403,
        'Forbidden',
        `volumesnapshots.snapshot.storage.k8s.io is forbidden: User "system:serviceaccount:${NS}:snap" cannot ${verb} resource "volumesnapshots"`,
      );
    const send = (o: unknown, code = 200) => sendJson(res, o, code);
    if (req.method === 'POST') {
      const o = JSON.parse(body) as VolumeSnapshot;
      if (objects.has(o.metadata.name))
        return sendStatus(res, 409, 'AlreadyExists', `volumesnapshots "${o.metadata.name}" already exists`);
      o.metadata.creationTimestamp = new Date().toISOString();
      objects.set(o.metadata.name, o);
      return send(o, 201);
    }
    if (req.method === 'GET' && !name) {
      const sel = (url.searchParams.get('labelSelector') ?? '')
        .split(',')
        .filter(Boolean)
        .map((kv) => kv.split('='));
      const items = [...objects.values()].filter((o) => sel.every(([k, v]) => o.metadata.labels?.[k!] === v));
      return send({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotList', items });
    }
    const o = name ? objects.get(name) : undefined;
    if (!o || !name) return sendStatus(res, 404, 'NotFound', `volumesnapshots "${name}" not found`);
    if (req.method === 'GET') {
      // The snapshot controller: cut on the first look, ready on the second.
      const n = (polls.get(name) ?? 0) + 1;
      polls.set(name, n);
      if (!o.status?.readyToUse)
        o.status =
          n === 1
            ? { readyToUse: false, creationTime: new Date().toISOString() }
            : { ...o.status, readyToUse: true, restoreSize: '5Gi' };
      return send(o);
    }
    if (req.method === 'PATCH') {
      const patch = JSON.parse(body) as { metadata?: { annotations?: Record<string, string> } };
      o.metadata.annotations = { ...o.metadata.annotations, ...patch.metadata?.annotations };
      return send(o);
    }
    if (req.method === 'DELETE') {
      objects.delete(name);
      return send({ kind: 'Status', status: 'Success' });
    }
    return sendStatus(res, 405, 'MethodNotAllowed', 'method not allowed');
  };
  // The VolumeSnapshot API and the snapshot controller, on the shared stand-in server.
  const standIn = await startStandInApi(NS);
  standIn.route(/^\//, (req, res) => handle(req, res, req.body));
  return Object.assign(api, { url: standIn.url, objects, requests, forbid });
}

function seed(api: FakeApi, name: string, day: number, member = 'pyairtable-stack-postgres-0') {
  api.objects.set(name, {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: {
      name,
      namespace: NS,
      labels: {
        'app.kubernetes.io/managed-by': 'postgres-agent',
        'app.kubernetes.io/instance': 'pyairtable-stack',
        'pyairtable-stack/snapshot-of': `postgres-storage-${member}`,
      },
      creationTimestamp: new Date(Date.UTC(2026, 0, day)).toISOString(),
    },
    spec: { source: { persistentVolumeClaimName: `postgres-storage-${member}` } },
    status: { readyToUse: true, creationTime: new Date(Date.UTC(2026, 0, day)).toISOString() },
  });
}

describe('postgres-agent snapshot over the Kubernetes API', () => {
  let pg: PgServer;
  before(async () => {
    pg = await startPostgres({ name: 'snap-api' });
  });

  async function run(api: FakeApi, args: string[]) {
    const pwFile = join(tempDir(), 'superuser-password');
    writeFileSync(pwFile, TEST_PASSWORD + '\n', { mode: 0o600 });
    const env = agentEnv(pg, {
      KUBECONFIG: writeKubeconfig(api.url, { namespace: NS, insecureSkipTlsVerify: true }),
      PGOPS_NAMESPACE: NS,
      PGOPS_SUPERUSER_PASSWORD: undefined,
      PGOPS_SUPERUSER_PASSWORD_FILE: pwFile,
      PGOPS_SNAPSHOT_CLASS: 'postgres-snapshots',
      PGOPS_SNAPSHOT_RETENTION_COUNT: '2',
      PGOPS_SNAPSHOT_TIMEOUT_SECONDS: '60',
    });
    return runAgent(['snapshot', ...args], env, { timeoutMs: 60_000 });
  }

  it('creates, waits, records the stop LSN with a merge patch, and deletes beyond retention', async () => {
    const api = await startFakeKubeApi();
    seed(api, 'pyairtable-stack-postgres-20260101-030000', 1);
    seed(api, 'pyairtable-stack-postgres-20260102-030000', 2);
    const r = await run(api, ['--name', 'emergency-snapshot', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      name: string;
      readyToUse: boolean;
      restoreSize: string;
      retention: { deleted: string[] };
    };
    assert.equal(out.readyToUse, true);
    assert.equal(out.restoreSize, '5Gi');
    assert.deepEqual(out.retention.deleted, ['pyairtable-stack-postgres-20260101-030000']);
    const created = api.objects.get('emergency-snapshot')!;
    assert.equal(created.spec.volumeSnapshotClassName, 'postgres-snapshots');
    assert.match(
      created.metadata.annotations!['pyairtable-stack/backup-stop-lsn'] ?? '',
      /^[0-9A-F]+\/[0-9A-F]+$/,
    );
    assert.ok(api.requests.includes(`PATCH ${BASE}/emergency-snapshot merge-patch`), api.requests.join('\n'));
    assert.ok(api.requests.includes(`DELETE ${BASE}/pyairtable-stack-postgres-20260101-030000`));
  });

  it('exits 1 with the Role to fix when RBAC forbids creating snapshots, and creates nothing', async () => {
    const api = await startFakeKubeApi();
    api.forbid.add('create');
    const r = await run(api, []);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /error: creating VolumeSnapshot pyairtable-stack-postgres-\d{8}-\d{6} .*forbidden/,
    );
    assert.match(r.stderr, /hint: The snapshot Role in namespace pyairtable must allow create/);
    assert.equal(api.objects.size, 0);
    const [row] = await pg.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'postgres-agent snapshot'",
    );
    assert.equal(row!.n, '0');
  });

  it("cuts the leading member's volume as the leader record names it, records the member, and keeps retention across members", async () => {
    const api = await startFakeKubeApi();
    api.leader = { member: 'pyairtable-stack-postgres-2', ip: '127.0.0.1' };
    // Taken while pod 0 led: snapshots of the same cluster, counted by retention.
    seed(api, 'pyairtable-stack-postgres-20260101-030000', 1, 'pyairtable-stack-postgres-0');
    seed(api, 'pyairtable-stack-postgres-20260102-030000', 2, 'pyairtable-stack-postgres-0');
    const r = await run(api, ['--name', 'after-failover', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { pvc: string; member: string; retention: { deleted: string[] } };
    assert.equal(out.pvc, 'postgres-storage-pyairtable-stack-postgres-2');
    assert.equal(out.member, 'pyairtable-stack-postgres-2');
    const created = api.objects.get('after-failover')!;
    assert.equal(
      created.spec.source.persistentVolumeClaimName,
      'postgres-storage-pyairtable-stack-postgres-2',
    );
    assert.equal(created.metadata.annotations!['pyairtable-stack/member'], 'pyairtable-stack-postgres-2');
    assert.deepEqual(out.retention.deleted, ['pyairtable-stack-postgres-20260101-030000']);
    assert.ok(api.requests.includes(`GET /api/v1/namespaces/${NS}/endpoints/pyairtable-stack-postgres`));
  });

  it('refuses when no member holds the leader lock, before backup mode and without creating anything', async () => {
    const api = await startFakeKubeApi();
    api.leader = { member: null, ip: '' };
    const r = await run(api, []);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /error: no member holds the leader lock \(Endpoints pyairtable-stack-postgres name no leader\); nothing was snapshotted/,
    );
    assert.match(r.stderr, /hint: .*postgres-ops status/);
    assert.equal(api.objects.size, 0);
  });

  it('refuses when the server reached is not the one the leader record names (leadership moving)', async () => {
    const api = await startFakeKubeApi();
    api.leader = { member: 'pyairtable-stack-postgres-1', ip: '10.8.0.13' };
    const r = await run(api, []);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /the server reached through 127\.0\.0\.1 is 127\.0\.0\.1, but Endpoints pyairtable-stack-postgres name pyairtable-stack-postgres-1 at 10\.8\.0\.13 as the leader; nothing was snapshotted/,
    );
    assert.equal(api.objects.size, 0);
    const [row] = await pg.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'postgres-agent snapshot'",
    );
    assert.equal(row!.n, '0');
  });

  it('says which RBAC rule is missing when the leader record cannot be read', async () => {
    const api = await startFakeKubeApi();
    api.forbid.add('get endpoints');
    const r = await run(api, []);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /error: reading the leader record \(Endpoints pyairtable-stack-postgres in namespace pyairtable\): forbidden/,
    );
    assert.match(r.stderr, /hint: The Role must allow get on endpoints\/pyairtable-stack-postgres/);
    assert.equal(api.objects.size, 0);
  });

  it('exits 2 for an invalid --name before touching PostgreSQL or the API', async () => {
    const api = await startFakeKubeApi();
    const r = await run(api, ['--name', 'Emergency_Snapshot']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /hint: A valid name: emergency-snapshot/);
    assert.deepEqual(api.requests, []);
  });
});
