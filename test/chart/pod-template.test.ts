/**
 * Settings unrelated to the server never restart it: the members' pod template is rendered before
 * and after each such change and must be identical (a changed template is a rolling restart of
 * every member, the leader included). Adding replicas changes the member count and nothing else.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { cleanupAll } from '../support/cleanup.js';
import { find, productionLike, render, type K8sObject } from './render.js';

after(cleanupAll);

const set = (...pairs: string[]) => pairs.flatMap((p) => ['--set', `databases.postgres.${p}`]);
const sts = (objs: K8sObject[]) => find(objs, 'StatefulSet', 'pyairtable-stack-postgres');

const base = productionLike;

/** Changes an operator makes to jobs, copies, alerts and failover, none of which is the server's business. */
const unrelated: Record<string, string[]> = {
  'backup retention': set('backup.retentionDays=3'),
  'backup schedule': set('backup.schedule=30 1 * * *'),
  'backup compression and deep verification': set('backup.compression=9', 'backup.deepVerify=true'),
  'backed-up databases': set('backup.databases={pyairtable,analytics}'),
  'backup volume size': set('backup.storageSize=500Gi'),
  'the backups switch': set('backup.enabled=false', 'crossRegion.enabled=false'),
  'snapshot retention and schedule': set('snapshots.retentionCount=30', 'snapshots.schedule=0 4 * * *'),
  'snapshot class and timeout': set(
    'snapshots.volumeSnapshotClass=fast-snaps',
    'snapshots.timeoutSeconds=900',
  ),
  'the snapshots switch': set('snapshots.enabled=false'),
  'cross-region bucket, schedule and retention': set(
    'crossRegion.bucket=other-bucket',
    'crossRegion.schedule=0 */2 * * *',
    'crossRegion.retentionDays=90',
  ),
  'a migration to run': set('migration.enabled=true', 'migration.version=2.0.0'),
  'a restore to run': set(
    'restore.enabled=true',
    'restore.backupFile=/backups/postgres/backup_20240101_020000.dump',
  ),
  // values-prod.yaml turns PITR on, so these render the point-in-time restore Job.
  'a point-in-time restore to run': set(
    'restore.enabled=true',
    'restore.targetTime=2026-11-30T14:02:59+00:00',
  ),
  'a restore to the last archived commit': set('restore.enabled=true', 'restore.latest=true'),
  'a point-in-time restore asked for but not enabled': set('restore.targetTime=2026-11-30T14:02:59Z'),
  'alert thresholds': set(
    'monitoring.alerts.diskWarningPercent=60',
    'monitoring.alerts.replicationLagSeconds=120',
    'monitoring.alerts.backupMaxAgeHours=50',
  ),
  'scrape interval and rule labels': set(
    'monitoring.serviceMonitor.interval=15s',
    'monitoring.prometheusRule.labels.release=kube-prometheus',
  ),
  'the dashboard switch': set('monitoring.dashboard.enabled=false'),
  'job resources, retries and history': set(
    'jobs.backoffLimit=3',
    'jobs.successfulJobsHistoryLimit=5',
    'jobs.resources.limits.memory=2Gi',
  ),
  'failover mode': set('replication.failover=manual'),
  'synchronous replication': set('replication.synchronous=false'),
  failsafe: set('replication.failsafe=false'),
  'PodDisruptionBudgets and NetworkPolicy': set('pdb.create=false', 'networkPolicy.enabled=true'),
  'the number of replicas': set('replication.replicas=4'),
  'physical backup schedules and retention': set(
    'pitr.schedules.full=0 2 * * 6',
    'pitr.schedules.diff=',
    'pitr.schedules.incr=0 */4 * * *',
    'pitr.retentionFull=4',
    'pitr.activeDeadlineSeconds=7200',
  ),
  'the recovery drill': set(
    'pitr.drill.enabled=false',
    'pitr.drill.schedule=0 5 * * 1',
    'pitr.drill.scratchSizeLimit=200Gi',
  ),
  "the repository pod's volume and resources": set(
    'pitr.repo1.storageSize=500Gi',
    'pitr.resources.limits.memory=4Gi',
  ),
};

describe("the members' pod template", () => {
  const before = sts(render(base));

  for (const [what, change] of Object.entries(unrelated)) {
    it(`stays the same when changing ${what}`, () => {
      const after = sts(render([...base, ...change]));
      assert.deepEqual(after.spec.template, before.spec.template);
      // Nothing else of the StatefulSet moves either, but the member count.
      assert.deepEqual({ ...after.spec, replicas: 0 }, { ...before.spec, replicas: 0 });
    });
  }

  it('is compared above with the point-in-time restore Job rendered, restore-request init container included', () => {
    const objs = render([...base, ...unrelated['a point-in-time restore to run']!]);
    find(objs, 'Job', 'pyairtable-stack-postgres-restore-pitr');
    const init = sts(objs).spec.template.spec.initContainers;
    assert.deepEqual(
      init.map((c: { name: string }) => c.name),
      ['restore-request'],
    );
  });

  it('adding replicas to a release without them changes only the member count', () => {
    const one = sts(render([]));
    const three = sts(render(set('replication.enabled=true', 'replication.replicas=2')));
    assert.equal(one.spec.replicas, 1);
    assert.equal(three.spec.replicas, 3);
    assert.deepEqual({ ...three.spec, replicas: 0 }, { ...one.spec, replicas: 0 });
  });

  it('changes with a server setting, so the comparison above can fail', () => {
    for (const change of [
      set('postgresql.parameters.work_mem=64MB'),
      set('resources.limits.memory=16Gi'),
      set('replication.ttl=60'),
      set('tls.enabled=true', 'tls.existingSecret=postgres-tls'),
      set('pitr.archiveTimeoutSeconds=30'),
    ]) {
      const after = sts(render([...base, ...change]));
      assert.equal(isDeepStrictEqual(after.spec.template, before.spec.template), false, change.join(' '));
    }
  });
});
