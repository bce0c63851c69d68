/**
 * The Kubernetes adapter's Job creation, against the chart's own rendered CronJob: `backup NAME`
 * must be what `kubectl create job --from=cronjob/...` makes plus `--name NAME` on the backup
 * container, and a restore Job must run only `postgres-agent restore`. A small HTTP stand-in for the
 * API server answers the calls and records what was posted (no cluster can run here).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { UsageError } from '../../src/core/errors.js';
import { KubeCluster } from '../../src/kube/cluster.js';
import { migrate } from '../../src/ops/commands/migrate.js';
import { cleanupAll } from '../support/cleanup.js';
import { sendJson, sendStatus, startStandInApi } from '../support/kube-api.js';
import { writeKubeconfig } from '../support/kubeconfig.js';
import { recordingHost } from '../support/output.js';
import { helm } from '../support/tools.js';

after(cleanupAll);

interface Container {
  name: string;
  args?: string[];
  command?: string[];
}
interface JobBody {
  metadata: {
    name: string;
    labels: Record<string, string>;
    ownerReferences: { kind: string; name: string }[];
  };
  spec: {
    backoffLimit?: number;
    template: { spec: { initContainers?: Container[]; containers: Container[] } };
  };
}

describe('postgres-ops Jobs on Kubernetes (chart CronJob, stand-in API server)', () => {
  const posted: JobBody[] = [];
  const lines: string[] = [];
  const out = recordingHost({ lines, results: [], stdout: [], stderr: [] });
  let cluster: KubeCluster;

  before(async () => {
    const rendered = helm([
      'template',
      'pyairtable-stack',
      'helm/pyairtable-stack',
      '-n',
      'pyairtable',
      '--set',
      'databases.postgres.backup.databases={pyairtable,audit}',
      '--show-only',
      'templates/postgres/backup/cronjob.yaml',
    ]);
    const cronJob = parse(rendered) as { metadata: Record<string, unknown> };
    // The chart's members' StatefulSet (the backup CronJob above covers two databases).
    const statefulSet = parse(
      helm([
        'template',
        'pyairtable-stack',
        'helm/pyairtable-stack',
        '-n',
        'pyairtable',
        '--set',
        'databases.postgres.backup.databases={pyairtable,audit}',
        '--show-only',
        'templates/postgres/members/statefulset.yaml',
      ]),
    ) as unknown;
    cronJob.metadata.uid = '1b6f-cron-uid';
    const api = await startStandInApi();
    api.route('/apis/apps/v1/namespaces/pyairtable/statefulsets', (_req, res) =>
      sendJson(res, {
        kind: 'StatefulSetList',
        metadata: {},
        items: [{ metadata: { name: 'pyairtable-stack-postgres' } }],
      }),
    );
    api.route('/apis/batch/v1/namespaces/pyairtable/cronjobs/pyairtable-stack-postgres-backup', (_req, res) =>
      sendJson(res, cronJob),
    );
    api.route('/apis/apps/v1/namespaces/pyairtable/statefulsets/pyairtable-stack-postgres', (_req, res) =>
      sendJson(res, statefulSet),
    );
    api.route(
      '/apis/batch/v1/namespaces/pyairtable/jobs',
      (req, res) => {
        const job = JSON.parse(req.body) as JobBody;
        posted.push(job);
        sendJson(res, job);
      },
      'POST',
    );
    api.route(/^\/apis\/batch\/v1\/namespaces\/pyairtable\/jobs\/(.+)$/, (req, res) =>
      sendJson(res, { metadata: { name: req.path.split('/').pop() }, status: { succeeded: 1 } }),
    );
    api.route('/api/v1/namespaces/pyairtable/pods', (req, res) => {
      if (!req.query.toString().includes('job-name'))
        return sendStatus(res, 404, 'NotFound', `no ${req.path}`);
      const last = posted[posted.length - 1]!;
      const agent = [
        ...(last.spec.template.spec.initContainers ?? []),
        ...last.spec.template.spec.containers,
      ][0]!;
      return sendJson(res, {
        kind: 'PodList',
        metadata: {},
        items: [
          {
            metadata: { name: `${last.metadata.name}-x7k2p` },
            status: {
              phase: 'Pending',
              initContainerStatuses: [{ name: agent.name, state: { running: {} } }],
            },
          },
        ],
      });
    });
    api.route(/^\/api\/v1\/namespaces\/pyairtable\/pods\/[^/]+\/log$/, (_req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end('backup complete\n');
    });
    process.env.KUBECONFIG = writeKubeconfig(api.url, { insecureSkipTlsVerify: true });
    delete process.env.KUBERNETES_SERVICE_HOST;
    cluster = await KubeCluster.connect({ release: 'pyairtable-stack' });
  });

  it('creates the backup Job from the CronJob with --name on its backup container, owned by the CronJob', async () => {
    await cluster.backup('critical-point-backup', out);
    const job = posted[0]!;
    assert.match(job.metadata.name, /^pyairtable-stack-postgres-backup-critical-point-backup-[0-9a-f]{6}$/);
    assert.deepEqual(
      job.metadata.ownerReferences.map((o) => [o.kind, o.name]),
      [['CronJob', 'pyairtable-stack-postgres-backup']],
    );
    assert.equal(job.metadata.labels['app.kubernetes.io/component'], 'postgres-backup');
    assert.equal(job.metadata.labels['app.kubernetes.io/managed-by'], 'postgres-ops');
    const spec = job.spec.template.spec;
    const backup = [...(spec.initContainers ?? []), ...spec.containers].find(
      (c) => c.args?.[0] === 'backup',
    )!;
    assert.deepEqual(backup.command, ['tini', '--', 'postgres-agent']);
    assert.deepEqual(backup.args, ['backup', '--name', 'critical-point-backup']);
    // Retention still runs after the backup, as in a scheduled run.
    assert.ok([...(spec.initContainers ?? []), ...spec.containers].some((c) => c.args?.[0] === 'prune'));
    assert.ok(lines.includes(`job.batch/${job.metadata.name} created`));
    assert.ok(lines.includes(`job.batch/${job.metadata.name} succeeded`));
  });

  it('makes a restore Job that runs only postgres-agent restore, once', async () => {
    await cluster.restore({ file: '/backups/postgres/critical-point-backup.dump', safetyBackup: true }, out);
    const job = posted[1]!;
    const spec = job.spec.template.spec;
    assert.deepEqual(spec.initContainers ?? [], []);
    assert.deepEqual(
      spec.containers.map((c) => [c.name, c.command, c.args]),
      [
        [
          'restore',
          ['tini', '--', 'postgres-agent'],
          ['restore', '/backups/postgres/critical-point-backup.dump', '--replace', '--yes'],
        ],
      ],
    );
    assert.equal(job.spec.backoffLimit, 0);
  });

  it('refuses a restore of a workstation file (exit 2) without creating a Job', async () => {
    await assert.rejects(
      cluster.restore({ file: './cluster-migration-backup.sql.gz', safetyBackup: true }, out),
      (e: Error & { exitCode?: number; hint?: string }) =>
        e.exitCode === 2 && /Copy it onto the backup volume first \(docs\/operations.md/.test(e.hint ?? ''),
    );
    assert.equal(posted.length, 2);
  });
  it('passes --jobs to the backup container of the Job when asked for a parallel backup', async () => {
    const before = posted.length;
    await cluster.backup('parallel-backup', out, { jobs: 4 });
    const spec = posted[before]!.spec.template.spec;
    const backup = [...(spec.initContainers ?? []), ...spec.containers].find(
      (c) => c.args?.[0] === 'backup',
    )!;
    assert.deepEqual(backup.args, ['backup', '--name', 'parallel-backup', '--jobs', '4']);
  });

  it('reads the application database and the databases backups cover from the backup CronJob', async () => {
    assert.deepEqual(await cluster.databases(), {
      application: 'pyairtable',
      backedUp: ['pyairtable', 'audit'],
    });
  });

  it('refuses migrate on Kubernetes (exit 2) with the helm and kubectl lines that run the chart Job, creating nothing', async () => {
    const before = posted.length;
    const deps = {
      cluster,
      out,
      confirm: async () => undefined,
      opts: { release: 'pyairtable-stack', output: 'table' as const },
    };
    await assert.rejects(migrate(['2.1.0'], { description: 'Add teams' }, deps), (e: UsageError) => {
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /runs as the chart's migration Job .* Nothing was changed/);
      assert.equal(
        e.hint,
        'Run: helm upgrade pyairtable-stack ./helm/pyairtable-stack -n pyairtable --reuse-values --set databases.postgres.migration.enabled=true --set databases.postgres.migration.version="2.1.0" --set databases.postgres.migration.description="Add teams" --timeout 30m; then follow it: kubectl logs -n pyairtable -f job/pyairtable-stack-postgres-migration-2.1.0 (docs/migrations.md)',
      );
      return true;
    });
    assert.equal(posted.length, before);
  });
});
