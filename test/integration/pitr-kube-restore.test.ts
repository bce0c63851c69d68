/**
 * A whole-cluster point-in-time restore on Kubernetes, end to end on real PostgreSQL, Patroni,
 * etcd and pgBackRest: postgres-ops drives a stand-in API server (no cluster runs here) whose
 * StatefulSet is played by this test: scaling runs the real `postgres-agent restore-request` of
 * each member (what the init container runs) on the local members' data directories, and starts or
 * stops the local cluster; the repository pod's exec runs the real agent against the local archive.
 */
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Output } from '../../src/core/output.js';
import { REQUEST_KEY } from '../../src/core/pitr/cluster-restore.js';
import { parseTarget } from '../../src/core/pitr/target.js';
import { KubeCluster } from '../../src/kube/cluster.js';
import { baseEnv } from '../../src/local/agent.js';
import { ensureEtcd, forgetCluster } from '../../src/local/etcd.js';
import { scopeOfState } from '../../src/local/members.js';
import { asPostgresEnv, pitrEnv } from '../../src/local/pitr-env.js';
import { pitrJobEnv } from '../../src/local/pitr.js';
import { eventually } from '../support/eventually.js';
import { cleanupAll, type HaCluster, quietOutput, sleep, startHaCluster } from '../support/ha.js';
import { sendJson, sendStatus, serveMembersStatefulSet, startStandInApi } from '../support/kube-api.js';
import { runAgent } from '../support/run-agent.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are untyped JSON */

const NS = 'pyairtable';
const STS = 'pyairtable-stack-postgres';
const APP = 'pyairtable';
delete process.env.KUBERNETES_SERVICE_HOST;

const lines: string[] = [];
const out: Output = { line: (s) => void lines.push(s), result: () => undefined, raw: () => undefined };

async function ids(c: HaCluster, member?: string): Promise<number[]> {
  const rows = await c.query<{ id: number }>(
    member ?? (await c.leader()),
    'SELECT id FROM marks ORDER BY id',
    APP,
  );
  return rows.map((r) => Number(r.id));
}

/** The API server, with a StatefulSet whose scaling this test carries out on the local members. */
async function kubernetesOver(c: HaCluster) {
  const api = await startStandInApi(NS);
  // The agent runs as the postgres OS user: its kubeconfig must be readable to it.
  const dir = mkdtempSync(join(tmpdir(), 'pgops-kubeconfig-'));
  chmodSync(dir, 0o755);
  const kubeconfig = join(dir, 'kubeconfig');
  copyFileSync(api.kubeconfig, kubeconfig);
  chmodSync(kubeconfig, 0o644);

  const members = c.names();
  const podName = (i: number) => `${STS}-${i}`;
  const sim = {
    replicas: members.length,
    /** Pods that exist, and whether each is Ready. */
    pods: new Map<string, boolean>(members.map((_, i) => [podName(i), true])),
    /** Member 0's restore fails (its repository is somewhere else). */
    breakRepo: false,
    work: Promise.resolve() as Promise<unknown>,
    initLogs: [] as string[],
  };
  let configMap: { data: Record<string, string>; rv: number } | undefined;
  const endpoints = new Map<string, Record<string, string>>([
    [STS, { leader: podName(0), optime: '1234', 'example.com/owner': 'kept' }],
    [`${STS}-config`, { initialize: '7312', config: '{}', history: '[]' }],
  ]);

  const initContainer = async (i: number) => {
    const root = c.stateDir;
    const state = c.state();
    const env = {
      ...(await c
        .cluster()
        .jobEnv()
        .catch(() => ({}))),
      ...baseEnv({ ...pitrEnv(root, state), ...asPostgresEnv() }),
      PGDATA: c.paths.dataDir(members[i]!),
      PGOPS_POD_NAME: podName(i),
      PGOPS_SCOPE: STS,
      PGOPS_NAMESPACE: NS,
      PGOPS_LOG_FORMAT: 'text',
      KUBECONFIG: kubeconfig,
      ...(sim.breakRepo && i === 0
        ? { PGOPS_PGBACKREST_REPO1_PATH: mkdtempSync(join(tmpdir(), 'pgops-norepo-')) }
        : {}),
    };
    const r = await runAgent(['restore-request', '-o', 'json'], env, { timeoutMs: 600_000 });
    sim.initLogs.push(`${podName(i)} exit ${r.code}\n${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { action: string };
  };

  serveMembersStatefulSet(api, { namespace: NS, replicas: () => sim.replicas });
  api.route(
    `/apis/apps/v1/namespaces/${NS}/statefulsets/${STS}/scale`,
    async (req, res) => {
      const want = Number(JSON.parse(req.body).spec.replicas);
      const from = sim.replicas;
      sim.replicas = want;
      if (want === 0) {
        await c.down();
        sim.pods.clear();
      } else if (from === 0 && want === 1) {
        sim.pods.set(podName(0), false);
        sim.work = initContainer(0).then(() => sim.pods.set(podName(0), true));
      } else if (want > from) {
        sim.work = (async () => {
          for (let i = from; i < want; i++) {
            sim.pods.set(podName(i), false);
            await initContainer(i);
          }
          // What the members' Patroni would find: an empty store when member 0 restored (it
          // forgot the Endpoints' record; local mode's store is etcd).
          const cm = configMap && JSON.parse(configMap.data[REQUEST_KEY]!);
          if (cm?.phase === 'restored') {
            await ensureEtcd(c.stateDir, c.state(), quietOutput);
            await forgetCluster(c.state(), scopeOfState(c.state()));
          }
          await c.up();
          for (let i = 0; i < want; i++) sim.pods.set(podName(i), true);
        })();
      }
      sendJson(res, { kind: 'Scale', spec: { replicas: want } });
    },
    'PATCH',
  );
  api.route(`/api/v1/namespaces/${NS}/pods`, (_req, res) =>
    sendJson(res, {
      kind: 'PodList',
      metadata: {},
      items: [...sim.pods].map(([name, ready]) => ({
        metadata: { name },
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
      })),
    }),
  );
  api.route(`/api/v1/namespaces/${NS}/pods/${STS}-repo-0`, (_req, res) =>
    sendJson(res, { kind: 'Pod', metadata: { name: `${STS}-repo-0` }, status: { phase: 'Running' } }),
  );
  const cmPath = `/api/v1/namespaces/${NS}/configmaps`;
  api.route(
    `${cmPath}/${STS}-restore-request`,
    (_req, res) =>
      configMap
        ? sendJson(res, {
            kind: 'ConfigMap',
            metadata: { name: `${STS}-restore-request`, resourceVersion: String(configMap.rv) },
            data: configMap.data,
          })
        : sendStatus(res, 404, 'NotFound', 'configmaps not found'),
    'GET',
  );
  api.route(
    cmPath,
    (req, res) => {
      configMap = { data: JSON.parse(req.body).data, rv: 1 };
      sendJson(res, { kind: 'ConfigMap', metadata: { resourceVersion: '1' } }, 201);
    },
    'POST',
  );
  api.route(
    `${cmPath}/${STS}-restore-request`,
    (req, res) => {
      const body = JSON.parse(req.body);
      if (!configMap) return sendStatus(res, 404, 'NotFound', 'configmaps not found');
      if (body.metadata?.resourceVersion && body.metadata.resourceVersion !== String(configMap.rv))
        return sendStatus(res, 409, 'Conflict', 'the object has been modified');
      configMap = { data: { ...configMap.data, ...body.data }, rv: configMap.rv + 1 };
      sendJson(res, { kind: 'ConfigMap', metadata: { resourceVersion: String(configMap.rv) } });
    },
    'PATCH',
  );
  api.route(/^\/api\/v1\/namespaces\/[^/]+\/endpoints\/[^/]+$/, (req, res) => {
    const name = req.path.split('/').pop()!;
    const ann = endpoints.get(name);
    if (!ann) return sendStatus(res, 404, 'NotFound', `endpoints "${name}" not found`);
    if (req.method === 'PATCH') {
      for (const [k, v] of Object.entries(JSON.parse(req.body).metadata.annotations ?? {}))
        if (v === null) delete ann[k];
        else ann[k] = v as string;
    }
    sendJson(res, { kind: 'Endpoints', metadata: { name, annotations: ann } });
  });
  api.onExec(async (r) => {
    assert.equal(r.pod, `${STS}-repo-0`);
    // The repository pod reaches whichever member leads (one that is cloning does not answer yet).
    await c.leader();
    const env = await eventually('the job environment', () => pitrJobEnv(c.cluster()), {
      timeoutMs: 60_000,
      intervalMs: 500,
      retryOnError: true,
    });
    const x = await runAgent(r.command.slice(1), env, { timeoutMs: 600_000 });
    return { stdout: x.stdout, stderr: x.stderr, exitCode: x.code ?? 1 };
  });

  const cluster = await KubeCluster.connect({
    release: 'pyairtable-stack',
    kubeconfig: api.kubeconfig,
    pollMs: 200,
  });
  return {
    api,
    sim,
    cluster,
    endpoints,
    request: () => (configMap ? JSON.parse(configMap.data[REQUEST_KEY]!) : undefined),
  };
}

const yes = () => Promise.resolve();

describe('whole-cluster point-in-time restore on Kubernetes', () => {
  it('refuses a target outside the window untouched, survives a member 0 that cannot restore, then restores exactly the rows before the target on every member', async () => {
    const c = await startHaCluster({ replicas: 1, pitr: { archiveTimeoutSeconds: 5 } });
    const leader = await c.leader();
    await c.query(leader, 'CREATE TABLE marks (id int PRIMARY KEY)', APP);
    const full = await c.ops(['backup', '--physical', '--type', 'full', '-o', 'json']);
    assert.equal(full.code, 0, full.stderr);
    await c.query(leader, 'INSERT INTO marks VALUES (1)', APP);
    await sleep(1100);
    const [now] = await c.query<{ t: Date }>(leader, 'SELECT clock_timestamp() AS t');
    const t = new Date(now!.t).toISOString();
    await sleep(1100);
    await c.query(leader, 'INSERT INTO marks VALUES (2)', APP);
    const k = await kubernetesOver(c);
    try {
      await steps(c, k, t);
    } catch (err) {
      // What the restore and the members said, for the reader of a failure.
      console.error([...lines, ...k.sim.initLogs, ...k.api.requests].join('\n'));
      throw err;
    }
  });
});

async function steps(c: HaCluster, k: Awaited<ReturnType<typeof kubernetesOver>>, t: string) {
  // Before the window: the plan refuses (exit 3) and nothing is scaled or written.
  await assert.rejects(
    k.cluster.restorePointInTime(
      { target: parseTarget({ time: '2020-01-01T00:00:00Z' }), confirm: yes },
      out,
    ),
    (e: any) => e.exitCode === 3 && /before the recoverability window/.test(e.message),
  );
  assert.equal(k.request(), undefined);
  assert.ok(!k.api.requests.some((r) => r.startsWith('PATCH')), k.api.requests.join('\n'));

  // Member 0 cannot reach its repository: it keeps its data, the cluster comes back as it was.
  k.sim.breakRepo = true;
  await assert.rejects(
    k.cluster.restorePointInTime({ target: parseTarget({ time: t }), confirm: yes }, out),
    (e: any) => e.exitCode === 1 && e.code === 'E_CLUSTER_RESTORE' && /Nothing was replaced/.test(e.message),
  );
  await k.sim.work;
  assert.equal(k.request().phase, 'failed');
  assert.deepEqual(await ids(c), [1, 2]);
  assert.deepEqual(
    readdirSync(`${c.stateDir}/data`).filter((d) => /before-restore|restoring/.test(d)),
    [],
    'no directory moved aside',
  );
  assert.equal(k.endpoints.get(`${STS}-config`)!.initialize, '7312', "Patroni's record kept");

  // The restore itself.
  k.sim.breakRepo = false;
  const r = await k.cluster.restorePointInTime({ target: parseTarget({ time: t }), confirm: yes }, out);
  await k.sim.work;
  lines.push('restore returned');
  const { replica } = await c.leaderAndStreamingReplica();
  lines.push(`replica ${replica} streams`);
  assert.deepEqual(await ids(c), [1]);
  assert.deepEqual(await ids(c, replica), [1]);
  assert.equal(k.request().phase, 'done');
  assert.ok(r.fullBackup, `a full backup of the new timeline (warnings: ${r.warnings.join('; ')})`);
  assert.ok(r.newTimeline && r.newTimeline > 1, `new timeline ${r.newTimeline}`);
  assert.equal(r.keptAside.length, 2, r.keptAside.join(', '));
  for (const a of r.keptAside) {
    const dir = a.split(':')[1]!;
    assert.ok(existsSync(join(dir, 'PG_VERSION')), `${dir} kept`);
  }
  assert.ok(
    r.next.some((n) => n.startsWith(`kubectl exec -n ${NS} ${STS}-0 -c postgres -- rm -rf `)),
    r.next.join('\n'),
  );
  // Patroni's keys gone from its Endpoints, another owner's annotation left alone.
  assert.deepEqual(k.endpoints.get(STS), { 'example.com/owner': 'kept' });
  assert.deepEqual(k.endpoints.get(`${STS}-config`), {});
}
