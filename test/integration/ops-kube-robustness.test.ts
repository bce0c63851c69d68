/**
 * The Kubernetes adapter when the API server or the network misbehaves, against a stand-in API
 * server that also speaks the exec WebSocket (test/support/kube-api.ts): an exec that is refused
 * (RBAC), dropped before its exit status or never answered; a Job whose pod stays Pending or whose
 * log stream ends early; Jobs made as kubectl create job --from makes them; a release whose objects
 * fullnameOverride renamed; read-only agent commands run where the backups are; a restore from a
 * URL with the object store's credentials. The Job templates are the chart's own, rendered by helm.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { OpsError } from '../../src/core/errors.js';
import type { Output } from '../../src/core/output.js';
import { KubeCluster } from '../../src/kube/cluster.js';
import { execInPod } from '../../src/kube/exec.js';
import { cleanupAll } from '../support/cleanup.js';
import { sendJson, sendStatus, startStandInApi, type StandInApi } from '../support/kube-api.js';
import { backupListEntry } from '../support/manifests.js';
import { tempDir } from '../support/tmp.js';
import { helm, opsMain } from '../support/tools.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests and API bodies are untyped JSON */

const NS = 'pyairtable';
delete process.env.KUBERNETES_SERVICE_HOST;

/** A CronJob of the chart as helm renders it (release pyairtable-stack unless named), with a uid. */
function cronJob(template: string, sets: string[] = [], release = 'pyairtable-stack'): any {
  const text = helm([
    'template',
    release,
    'helm/pyairtable-stack',
    '-n',
    NS,
    '--show-only',
    `templates/postgres/${template}`,
    ...sets.flatMap((s) => ['--set', s]),
  ]);
  const o = parse(text);
  o.metadata.uid = `uid-${o.metadata.name}`;
  return o;
}

interface JobScript {
  /** Looks at the Job before its pod runs the agent (it is Pending meanwhile). */
  pendingPolls?: number;
  /** Looks at the Job after that before it succeeds (or fails). */
  runningPolls?: number;
  fail?: boolean;
  /** The agent container's log; with endsEarly the follow stream ends after its first line. */
  log?: string;
  endsEarly?: boolean;
}

/** A stand-in with the release's StatefulSet, member pods, CronJobs and Jobs that play a script. */
async function standIn(opts: { release?: string; setName?: string; cronJobs?: any[] } = {}) {
  const release = opts.release ?? 'pyairtable-stack';
  const setName = opts.setName ?? `${release}-postgres`;
  const api = await startStandInApi(NS);
  const posted: any[] = [];
  const deleted: string[] = [];
  let script: JobScript = {};
  const polls = new Map<string, number>();
  const cronJobs = new Map((opts.cronJobs ?? []).map((c) => [c.metadata.name, c]));
  const base = `/apis/batch/v1/namespaces/${NS}`;

  api.route(`/apis/apps/v1/namespaces/${NS}/statefulsets`, (req, res) => {
    const wanted = req.query.get('labelSelector') ?? '';
    const items = wanted.includes(`app.kubernetes.io/instance=${release}`)
      ? [
          {
            metadata: {
              name: setName,
              labels: {
                'app.kubernetes.io/instance': release,
                'app.kubernetes.io/component': 'postgres-primary',
              },
            },
          },
        ]
      : [];
    sendJson(res, { kind: 'StatefulSetList', metadata: {}, items });
  });
  api.route(/^\/apis\/batch\/v1\/namespaces\/[^/]+\/cronjobs\/(.+)$/, (req, res) => {
    const name = req.path.split('/').pop()!;
    const cj = cronJobs.get(name);
    if (!cj) return sendStatus(res, 404, 'NotFound', `cronjobs.batch "${name}" not found`);
    sendJson(res, cj);
  });
  api.route(
    `${base}/jobs`,
    (req, res) => {
      const job = JSON.parse(req.body);
      posted.push(job);
      sendJson(res, job, 201);
    },
    'POST',
  );
  const stage = (name: string) => {
    const n = polls.get(name) ?? 0;
    const pending = script.pendingPolls ?? 0;
    const running = script.runningPolls ?? 1;
    return n < pending ? 'pending' : n < pending + running ? 'running' : 'done';
  };
  api.route(
    /^\/apis\/batch\/v1\/namespaces\/[^/]+\/jobs\/[^/]+$/,
    (req, res) => {
      const name = req.path.split('/').pop()!;
      polls.set(name, (polls.get(name) ?? 0) + 1);
      const s = stage(name);
      const status =
        s !== 'done'
          ? { active: 1 }
          : script.fail
            ? {
                failed: 1,
                conditions: [
                  {
                    type: 'Failed',
                    status: 'True',
                    reason: 'BackoffLimitExceeded',
                    message: 'Job has reached the specified backoff limit',
                  },
                ],
              }
            : { succeeded: 1 };
      sendJson(res, { metadata: { name }, status });
    },
    'GET',
  );
  api.route(
    /^\/apis\/batch\/v1\/namespaces\/[^/]+\/jobs\/[^/]+$/,
    (req, res) => {
      deleted.push(req.path.split('/').pop()!);
      sendJson(res, { kind: 'Status', status: 'Success' });
    },
    'DELETE',
  );
  api.route(`/api/v1/namespaces/${NS}/pods`, (req, res) => {
    const sel = req.query.get('labelSelector') ?? '';
    const job = /job-name=([^,]+)/.exec(sel)?.[1];
    if (!job) return sendJson(res, { kind: 'PodList', metadata: {}, items: [] });
    const body = posted.find((j) => j.metadata.name === job);
    const podSpec = body.spec.template.spec;
    const s = stage(job);
    const pod =
      s === 'pending'
        ? {
            metadata: { name: `${job}-x7k2p`, creationTimestamp: '2026-01-01T00:00:00Z' },
            status: {
              phase: 'Pending',
              conditions: [
                {
                  type: 'PodScheduled',
                  status: 'False',
                  reason: 'Unschedulable',
                  message: '0/3 nodes are available: 3 node(s) had volume node affinity conflict.',
                },
              ],
            },
          }
        : {
            metadata: { name: `${job}-x7k2p`, creationTimestamp: '2026-01-01T00:00:00Z' },
            status: {
              phase: s === 'done' ? 'Succeeded' : 'Running',
              // The backup runs in an init container, the others in the pod's containers.
              initContainerStatuses: (podSpec.initContainers ?? []).map((c: any) => ({
                name: c.name,
                state: s === 'done' ? { terminated: { exitCode: 0 } } : { running: {} },
              })),
              containerStatuses: podSpec.containers.map((c: any) => ({
                name: c.name,
                state: s === 'done' ? { terminated: { exitCode: 0 } } : { running: {} },
              })),
            },
          };
    sendJson(res, { kind: 'PodList', metadata: {}, items: [pod] });
  });
  api.route(/^\/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+\/log$/, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const log = script.log ?? 'done\n';
    if (req.query.get('follow') === 'true' && script.endsEarly) return res.end(log.split('\n')[0] + '\n');
    res.end(log);
  });
  const cluster = await KubeCluster.connect({ release, kubeconfig: api.kubeconfig, pollMs: 20 });
  return {
    api,
    cluster,
    posted,
    deleted,
    play: (s: JobScript) => {
      script = s;
    },
  };
}

function recorder() {
  const lines: string[] = [];
  const raw: string[] = [];
  const out: Output = { line: (t) => lines.push(t), result: () => undefined, raw: (s) => raw.push(s) };
  return { out, lines, raw };
}

async function captureStderr<T>(fn: () => Promise<T>): Promise<{ value: T; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let text = '';
  (process.stderr as any).write = (c: string | Uint8Array) => {
    text += c.toString();
    return true;
  };
  try {
    return { value: await fn(), stderr: text };
  } finally {
    (process.stderr as any).write = write;
  }
}

describe('exec into a pod, against a stand-in that speaks the exec WebSocket', () => {
  async function withExec(answer: Parameters<StandInApi['onExec']>[0]) {
    const s = await standIn();
    s.api.onExec(answer);
    return s;
  }

  it('returns output and the exit code of a command that completes', async () => {
    const { api } = await withExec((r) => ({
      stdout: `ran ${r.command.join(' ')}`,
      stderr: 'note',
      exitCode: 3,
    }));
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfig);
    const r = await execInPod(kc, NS, 'pyairtable-stack-postgres-0', 'postgres', ['echo', 'hi']);
    assert.deepEqual(r, { code: 3, stdout: 'ran echo hi', stderr: 'note' });
  });

  it('fails with a clear error, not a hang or a success, when the connection closes before the exit status', async () => {
    const { cluster } = await withExec(() => ({ drop: true, stdout: '[{"partial":' }));
    await assert.rejects(cluster.query('pyairtable-stack-postgres-0', 'SELECT 1'), (e: any) => {
      assert.equal(e.code, 'E_EXEC_CLOSED');
      assert.match(
        e.message,
        /the connection to pod pyairtable-stack-postgres-0 closed before psql -U reported an exit status/,
      );
      assert.match(e.hint, /kubectl logs -n pyairtable pyairtable-stack-postgres-0 -c postgres/);
      return true;
    });
  });

  it('says which RBAC verb is missing when the API server refuses the exec', async () => {
    const { cluster } = await withExec(() => ({
      refuse: 403,
      message:
        'pods "pyairtable-stack-postgres-0" is forbidden: User "dev" cannot create resource "pods/exec"',
    }));
    await assert.rejects(cluster.query('pyairtable-stack-postgres-0', 'SELECT 1'), (e: any) => {
      assert.equal(e.code, 'E_KUBE_FORBIDDEN');
      assert.equal(e.exitCode, 1);
      assert.match(e.message, /forbidden/);
      assert.match(
        e.hint,
        /create on pods\/exec .*kubectl auth can-i create pods --subresource=exec -n pyairtable/,
      );
      return true;
    });
  });

  it('gives up at its deadline when the command never answers', async () => {
    const { api } = await withExec(() => ({ hang: true }));
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfig);
    const t0 = Date.now();
    await assert.rejects(
      execInPod(kc, NS, 'pyairtable-stack-postgres-0', 'postgres', ['sleep', '1000'], { timeoutMs: 300 }),
      (e: any) => e.code === 'E_EXEC_TIMEOUT' && /did not finish within 0 s|within/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 5000);
  });
});

describe('Jobs from the chart CronJobs', () => {
  const backupCron = () => cronJob('backup/cronjob.yaml');

  it('carries the controller reference kubectl create job --from writes, so the CronJob counts it as running', async () => {
    const s = await standIn({ cronJobs: [backupCron()] });
    s.play({ runningPolls: 1 });
    await s.cluster.backup('before-upgrade', recorder().out);
    const job = s.posted[0];
    assert.deepEqual(job.metadata.ownerReferences, [
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        name: 'pyairtable-stack-postgres-backup',
        uid: 'uid-pyairtable-stack-postgres-backup',
        controller: true,
      },
    ]);
    assert.equal(job.metadata.annotations['cronjob.kubernetes.io/instantiate'], 'manual');
    assert.equal(job.metadata.labels['app.kubernetes.io/component'], 'postgres-backup');
  });

  it('prints why the pod is Pending while it waits, then follows it to success', async () => {
    const s = await standIn({ cronJobs: [backupCron()] });
    s.play({ pendingPolls: 3, runningPolls: 2 });
    const { out, lines } = recorder();
    await captureStderr(() => s.cluster.backup(undefined, out));
    const pending = lines.filter((l) => /Pending/.test(l));
    assert.ok(pending.length >= 1, lines.join('\n'));
    assert.match(
      pending[0]!,
      /job\.batch\/pyairtable-stack-postgres-backup-[0-9a-f]{6}: pod \S+ is Pending: not scheduled: 0\/3 nodes are available: 3 node\(s\) had volume node affinity conflict\./,
    );
    assert.equal(pending.length, 1, 'the same reason is not repeated at every look');
    assert.match(lines.at(-1)!, /succeeded$/);
  });

  it('falls back to watching the Job when its log stream ends early, and still reports the outcome', async () => {
    const s = await standIn({ cronJobs: [backupCron()] });
    s.play({ runningPolls: 6, log: 'first line\nsecond line\n', endsEarly: true });
    const { out, lines, raw } = recorder();
    await captureStderr(() => s.cluster.backup(undefined, out));
    // The pod's log is passed through the output host as it arrives.
    assert.match(raw.join(''), /first line/);
    assert.ok(
      lines.some((l) =>
        /the log of pod \S+ ended before job\.batch\/\S+ finished; waiting for the Job/.test(l),
      ),
      lines.join('\n'),
    );
    assert.match(lines.at(-1)!, /succeeded$/);
  });

  it('reports a failed Job with the command to read its log (exit 1)', async () => {
    const s = await standIn({ cronJobs: [backupCron()] });
    s.play({ runningPolls: 1, fail: true });
    await assert.rejects(
      captureStderr(() => s.cluster.backup(undefined, recorder().out)),
      (e: any) => {
        assert.equal(e.code, 'E_JOB_FAILED');
        assert.match(
          e.hint,
          /kubectl logs -n pyairtable job\/pyairtable-stack-postgres-backup-\S+ -c backup/,
        );
        return true;
      },
    );
  });

  it('lists backups with a Job that mounts the backup volume, reads its result from the log and removes it', async () => {
    const s = await standIn({ cronJobs: [backupCron()] });
    const list = [
      backupListEntry('backup_20260101_020000', {
        file: '/backups/postgres/backup_20260101_020000.dump',
      }),
    ];
    s.play({
      runningPolls: 1,
      log: [
        '{"level":"info","msg":"listing /backups/postgres"}',
        JSON.stringify(list, null, 2),
        '{"level":"info","msg":"done"}',
      ].join('\n'),
    });
    const { value, stderr } = await captureStderr(() => s.cluster.listBackups());
    assert.deepEqual(value, list);
    assert.doesNotMatch(stderr, /listing \/backups/, 'the agent log is not echoed for a read');
    const job = s.posted[0];
    const spec = job.spec.template.spec;
    assert.deepEqual(spec.initContainers, []);
    assert.deepEqual(
      spec.containers.map((c: any) => [c.name, c.args]),
      [['list-backups', ['list-backups', '-o', 'json']]],
    );
    assert.ok(
      spec.volumes.some(
        (v: any) => v.persistentVolumeClaim?.claimName === 'pyairtable-stack-postgres-backup-pvc',
      ),
    );
    assert.deepEqual(s.deleted, [job.metadata.name]);
  });

  it('refuses a list from an agent that prints rows without a field it needs, naming the field and the version rule', async () => {
    const s = await standIn({ cronJobs: [backupCron()] });
    const { sizeBytes: _gone, ...older } = backupListEntry('backup_20260101_020000');
    s.play({ runningPolls: 1, log: JSON.stringify([older], null, 2) });
    await assert.rejects(
      captureStderr(() => s.cluster.listBackups()),
      (e: OpsError) =>
        e.code === 'E_AGENT_OUTPUT' &&
        /^postgres-agent list-backups succeeded, but its JSON result does not have what this postgres-ops reads: 0\.sizeBytes: /.test(
          e.message,
        ) &&
        /same version/.test(e.hint ?? ''),
    );
    assert.deepEqual(s.deleted, [s.posted[0].metadata.name], 'the Job is removed all the same');
  });

  it('finds the release by its instance label whatever fullnameOverride named its objects', async () => {
    const renamed = cronJob('backup/cronjob.yaml', ['fullnameOverride=pg']);
    assert.equal(renamed.metadata.name, 'pg-postgres-backup');
    const s = await standIn({ setName: 'pg-postgres', cronJobs: [renamed] });
    s.play({ runningPolls: 1 });
    await s.cluster.backup(undefined, recorder().out);
    assert.match(s.posted[0].metadata.name, /^pg-postgres-backup-[0-9a-f]{6}$/);
    assert.equal(s.cluster.fullname, 'pg-postgres');
  });
});

describe('restore on Kubernetes', () => {
  const s3 = [
    'databases.postgres.crossRegion.enabled=true',
    'databases.postgres.crossRegion.provider=s3',
    'databases.postgres.crossRegion.bucket=dr-bucket',
    'databases.postgres.crossRegion.region=eu-west-1',
    'databases.postgres.crossRegion.credentialsSecret=s3-keys',
  ];

  it("restores from a URL with the sync configuration's object store, credentials and identity, writing its safety backup", async () => {
    const s = await standIn({
      cronJobs: [cronJob('backup/cronjob.yaml'), cronJob('sync/cronjob.yaml', s3)],
    });
    s.play({ runningPolls: 1 });
    await captureStderr(() =>
      s.cluster.restore(
        { file: 's3://dr-bucket/postgres/backup_20260101_020000.dump', safetyBackup: true },
        recorder().out,
      ),
    );
    const job = s.posted[0];
    assert.equal(job.metadata.ownerReferences[0].name, 'pyairtable-stack-postgres-sync');
    const spec = job.spec.template.spec;
    assert.equal(spec.serviceAccountName, 'pyairtable-stack-postgres-sync');
    const [c] = spec.containers;
    assert.deepEqual(c.args, [
      'restore',
      's3://dr-bucket/postgres/backup_20260101_020000.dump',
      '--replace',
      '--yes',
    ]);
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    assert.equal(env.PGOPS_SYNC_PROVIDER, 's3');
    assert.equal(env.PGOPS_SYNC_BUCKET, 'dr-bucket');
    assert.equal(env.PGOPS_SYNC_REGION, 'eu-west-1');
    assert.deepEqual(env.AWS_SECRET_ACCESS_KEY, {
      secretKeyRef: { name: 's3-keys', key: 'AWS_SECRET_ACCESS_KEY' },
    });
    assert.equal(c.volumeMounts.find((m: any) => m.name === 'backups').readOnly, false);
    assert.equal(job.spec.backoffLimit, 0);
  });

  it('refuses a URL when the release has no object store configured (exit 2) and creates no Job', async () => {
    const s = await standIn({ cronJobs: [cronJob('backup/cronjob.yaml')] });
    await assert.rejects(
      s.cluster.restore({ file: 'gs://bucket/postgres/x.dump', safetyBackup: true }, recorder().out),
      (e: any) =>
        e.exitCode === 2 &&
        e.code === 'E_NO_OBJECT_STORE' &&
        /crossRegion\.enabled=true/.test(e.hint) &&
        /nothing was changed/.test(e.message),
    );
    assert.equal(s.posted.length, 0);
  });
});

describe('postgres-ops --kubeconfig', () => {
  function ops(args: string[], env: NodeJS.ProcessEnv) {
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [opsMain, ...args, '--state-dir', join(tempDir(), 'state')],
        { env: { ...process.env, KUBERNETES_SERVICE_HOST: '', ...env }, timeout: 60_000 },
        (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });
  }

  it('uses the kubeconfig it is given rather than KUBECONFIG', async () => {
    const s = await standIn();
    s.api.route(/volumesnapshots$/, (_req, res) => sendJson(res, { items: [] }));
    const r = await ops(['list-snapshots', '-o', 'json', '--kubeconfig', s.api.kubeconfig], {
      KUBECONFIG: join(tempDir(), 'missing'),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  it('names the file when the kubeconfig it is given does not exist', async () => {
    const missing = join(tempDir(), 'nope.yaml');
    const r = await ops(['list-snapshots', '--kubeconfig', missing], {});
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`no Kubernetes cluster configured \\(no kubeconfig at ${missing.replace(/[.]/g, '\\.')}\\)`),
    );
  });
});
