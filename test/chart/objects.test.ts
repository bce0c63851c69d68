/**
 * The names, labels, schedules and paths the guide's commands depend on (release pyairtable-stack).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { chartDir } from '../support/tools.js';
import {
  containersOf,
  find,
  helmRun,
  parseManifests,
  pods,
  render,
  templateArgs,
  toggles,
  type K8sObject,
} from './render.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped JSON */

const set = (...pairs: string[]) => pairs.flatMap((p) => ['--set', `databases.postgres.${p}`]);
const defaults = () => render([]);
const prod = () => render(['--values', 'values-prod.yaml']);
const staging = () => render(['--values', 'values-staging.yaml']);
const dev = () => render(['--values', 'values-dev.yaml']);
const allOn = () =>
  render([
    ...toggles.replication!,
    ...toggles.snapshots!,
    ...toggles.crossRegionGcs!,
    ...toggles.restore!,
    ...toggles.migration!,
    ...toggles.tls!,
  ]);
const container = (spec: any, name: string) => containersOf(spec).find((c: any) => c.name === name);
const envValue = (c: any, name: string) => c.env?.find((e: any) => e.name === name)?.value;
const cronPod = (o: K8sObject) => o.spec.jobTemplate.spec.template.spec;
/** An env value of the backup CronJob's `backup` (init) or `prune` container. */
const backupEnv = (objs: K8sObject[], container: 'backup' | 'prune', name: string) => {
  const spec = cronPod(find(objs, 'CronJob', 'pyairtable-stack-postgres-backup'));
  return envValue(container === 'backup' ? spec.initContainers[0] : spec.containers[0], name);
};

describe('members StatefulSet', () => {
  it('is pyairtable-stack-postgres with the postgres-storage claim, so the guide PVC name exists', () => {
    const sts = find(defaults(), 'StatefulSet', 'pyairtable-stack-postgres');
    assert.equal(sts.spec.replicas, 1);
    assert.equal(sts.spec.serviceName, 'pyairtable-stack-postgres-hl');
    assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, 'postgres-storage');
    // PVC name = <claim>-<statefulset>-<ordinal>
    assert.equal(
      `${sts.spec.volumeClaimTemplates[0].metadata.name}-${sts.metadata.name}-0`,
      'postgres-storage-pyairtable-stack-postgres-0',
    );
    assert.deepEqual(sts.spec.persistentVolumeClaimRetentionPolicy, {
      whenDeleted: 'Retain',
      whenScaled: 'Retain',
    });
  });

  it('runs 1 + replication.replicas members in the one StatefulSet, and no other StatefulSet of members', () => {
    for (const [objs, members] of [
      [defaults(), 1],
      [render(toggles.replication!), 3],
      [prod(), 3],
      [render(set('replication.enabled=true', 'replication.replicas=4')), 5],
      [render(set('replication.enabled=false', 'replication.replicas=4')), 1],
    ] as const) {
      // The repository pod of point-in-time recovery (values-prod.yaml) is a StatefulSet of its own.
      const sets = objs.filter(
        (o) => o.kind === 'StatefulSet' && o.metadata.name !== 'pyairtable-stack-postgres-repo',
      );
      assert.deepEqual(
        sets.map((o) => o.metadata.name),
        ['pyairtable-stack-postgres'],
      );
      assert.equal(sets[0]!.spec.replicas, members);
    }
  });

  it('fixes no role in the pod template: Patroni labels the pods at run time', () => {
    const labels = find(prod(), 'StatefulSet', 'pyairtable-stack-postgres').spec.template.metadata.labels;
    assert.equal(labels['pyairtable-stack/role'], undefined);
    assert.equal(labels['pyairtable-stack/cluster'], 'pyairtable-stack-postgres');
    assert.equal(labels['pyairtable-stack/postgres-server'], 'true');
  });

  it('runs postgres-agent instance under tini, with the data volume at /var/lib/postgresql/data and PGDATA in pgdata', () => {
    const spec = find(defaults(), 'StatefulSet', 'pyairtable-stack-postgres').spec.template.spec;
    const pg = container(spec, 'postgres');
    assert.deepEqual(pg.command, ['tini', '--', 'postgres-agent']);
    assert.deepEqual(pg.args, ['instance']);
    const mount = pg.volumeMounts.find((m: any) => m.name === 'postgres-storage');
    assert.equal(mount.mountPath, '/var/lib/postgresql/data');
    assert.equal(envValue(pg, 'PGDATA'), '/var/lib/postgresql/data/pgdata');
    assert.equal(envValue(pg, 'PGOPS_CONFIG_FILE'), '/etc/pgops/config/postgresql.conf');
  });

  it('keeps Patroni private files in a memory-backed run directory and mounts configuration as directories the kubelet updates', () => {
    const spec = find(defaults(), 'StatefulSet', 'pyairtable-stack-postgres').spec.template.spec;
    const pg = container(spec, 'postgres');
    assert.equal(envValue(pg, 'PGOPS_SOCKET_DIR'), '/var/run/postgresql');
    const run = spec.volumes.find((v: any) => v.name === 'run');
    assert.equal(run.emptyDir.medium, 'Memory');
    assert.equal(pg.volumeMounts.find((m: any) => m.name === 'run').mountPath, '/var/run/postgresql');
    for (const m of pg.volumeMounts) assert.equal(m.subPath, undefined, `${m.name} is mounted with subPath`);
    assert.equal(envValue(pg, 'PGOPS_HA_FILE'), '/etc/pgops/ha/ha.json');
    assert.equal(
      spec.volumes.find((v: any) => v.name === 'ha').configMap.name,
      'pyairtable-stack-postgres-ha',
    );
  });

  it('probes the agent on 8009, tuned to the lease, and gives a clean shutdown more time than the agent needs', () => {
    const spec = find(defaults(), 'StatefulSet', 'pyairtable-stack-postgres').spec.template.spec;
    const pg = container(spec, 'postgres');
    assert.equal(pg.ports.find((p: any) => p.name === 'agent').containerPort, 8009);
    assert.equal(pg.ports.find((p: any) => p.name === 'patroni').containerPort, 8008);
    assert.equal(envValue(pg, 'PGOPS_HEALTH_PORT'), '8009');
    assert.equal(envValue(pg, 'PGOPS_RESTAPI_PORT'), '8008');
    assert.equal(pg.startupProbe.httpGet.path, '/healthz/startup');
    assert.equal(pg.readinessProbe.httpGet.path, '/healthz/ready');
    assert.equal(pg.livenessProbe.httpGet.path, '/healthz/live');
    for (const probe of [pg.startupProbe, pg.readinessProbe, pg.livenessProbe])
      assert.equal(probe.httpGet.port, 'agent');
    // ttl 30, loop_wait 10: checked every loop, half a loop to answer, failing after one lease.
    for (const probe of [pg.readinessProbe, pg.livenessProbe])
      assert.deepEqual([probe.periodSeconds, probe.timeoutSeconds, probe.failureThreshold], [10, 5, 3]);
    const slow = container(
      find(
        render(set('replication.ttl=60', 'replication.loopWait=15')),
        'StatefulSet',
        'pyairtable-stack-postgres',
      ).spec.template.spec,
      'postgres',
    );
    assert.deepEqual(
      [
        slow.livenessProbe.periodSeconds,
        slow.livenessProbe.timeoutSeconds,
        slow.livenessProbe.failureThreshold,
      ],
      [15, 7, 4],
    );
    assert.equal(envValue(slow, 'PGOPS_HA_TTL'), '60');
    const shutdown = Number(envValue(pg, 'PGOPS_SHUTDOWN_TIMEOUT_SECONDS'));
    assert.ok(
      spec.terminationGracePeriodSeconds >= shutdown + 15,
      'grace period must exceed the shutdown timeout',
    );
  });

  it('does not mount the backup volume in any member: it would pin the leader to the backup disk zone', () => {
    for (const objs of [defaults(), prod(), allOn()]) {
      const spec = find(objs, 'StatefulSet', 'pyairtable-stack-postgres').spec.template.spec;
      assert.equal(
        spec.volumes.find((v: any) => v.persistentVolumeClaim),
        undefined,
      );
      assert.equal(
        container(spec, 'postgres').volumeMounts.find((m: any) => m.mountPath === '/backups'),
        undefined,
      );
    }
  });

  it('renders postgresql.parameters into the mounted postgresql.conf, quoted, after the audit settings', () => {
    const cm = find(
      render(set("postgresql.parameters.application_name=it's")),
      'ConfigMap',
      'pyairtable-stack-postgres-config',
    );
    const conf: string = cm.data['postgresql.conf'];
    assert.match(conf, /^shared_buffers = '256MB'$/m);
    assert.match(conf, /^checkpoint_completion_target = '0\.9'$/m);
    assert.match(conf, /^application_name = 'it''s'$/m);
    const prodConf: string = find(prod(), 'ConfigMap', 'pyairtable-stack-postgres-config').data[
      'postgresql.conf'
    ];
    assert.match(prodConf, /^shared_buffers = '2GB'$/m);
    assert.match(
      prodConf,
      /^checkpoint_timeout = '15min'$/m,
      'environment files keep the defaults they do not override',
    );
  });

  it('logs connections, disconnections and DDL by default, each configurable', () => {
    const conf = (objs: K8sObject[]) =>
      find(objs, 'ConfigMap', 'pyairtable-stack-postgres-config').data['postgresql.conf'] as string;
    assert.match(conf(defaults()), /^log_connections = 'on'$/m);
    assert.match(conf(defaults()), /^log_disconnections = 'on'$/m);
    assert.match(conf(defaults()), /^log_statement = 'ddl'$/m);
    const quiet = conf(
      render(set('audit.logConnections=false', 'audit.logDisconnections=false', 'audit.logStatement=none')),
    );
    assert.match(quiet, /^log_connections = 'off'$/m);
    assert.match(quiet, /^log_disconnections = 'off'$/m);
    assert.match(quiet, /^log_statement = 'none'$/m);
  });

  it('writes failover, synchronous and failsafe into the HA ConfigMap the members re-read', () => {
    const ha = (objs: K8sObject[]) =>
      JSON.parse(find(objs, 'ConfigMap', 'pyairtable-stack-postgres-ha').data['ha.json']);
    assert.deepEqual(ha(defaults()), { failover: 'automatic', synchronous: false, failsafe: true });
    assert.deepEqual(ha(prod()), { failover: 'automatic', synchronous: true, failsafe: true });
    assert.deepEqual(ha(render(toggles.manualFailover!)).failover, 'manual');
  });

  it('has a PodDisruptionBudget that keeps the leader, and one that keeps a majority with it', () => {
    const leader = find(prod(), 'PodDisruptionBudget', 'pyairtable-stack-postgres');
    assert.equal(leader.spec.minAvailable, 1);
    assert.equal(leader.spec.selector.matchLabels['pyairtable-stack/role'], 'master');
    const replicas = find(prod(), 'PodDisruptionBudget', 'pyairtable-stack-postgres-replicas');
    assert.equal(replicas.spec.selector.matchLabels['pyairtable-stack/role'], 'replica');
    // 3 members: the leader and 1 replica are a majority; 5 members: the leader and 2.
    assert.equal(replicas.spec.minAvailable, 1);
    assert.equal(
      find(
        render(set('replication.enabled=true', 'replication.replicas=4')),
        'PodDisruptionBudget',
        'pyairtable-stack-postgres-replicas',
      ).spec.minAvailable,
      2,
    );
    assert.equal(
      defaults().find((o) => o.metadata.name === 'pyairtable-stack-postgres-replicas'),
      undefined,
      'no replicas, no budget for them',
    );
  });

  it('keeps members on different nodes and spreads them across zones, as values say', () => {
    const spec = find(prod(), 'StatefulSet', 'pyairtable-stack-postgres').spec.template.spec;
    const term = spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0];
    assert.equal(term.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(
      term.podAffinityTerm.labelSelector.matchLabels,
      spec.topologySpreadConstraints[0].labelSelector.matchLabels,
    );
    assert.equal(spec.topologySpreadConstraints[0].topologyKey, 'topology.kubernetes.io/zone');
    assert.equal(spec.topologySpreadConstraints[0].whenUnsatisfiable, 'ScheduleAnyway');
    const hard = find(render(set('podAntiAffinity=hard')), 'StatefulSet', 'pyairtable-stack-postgres').spec
      .template.spec;
    assert.equal(
      hard.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey,
      'kubernetes.io/hostname',
    );
    const none = find(
      render(set('podAntiAffinity=none', 'topologySpread.enabled=false')),
      'StatefulSet',
      'pyairtable-stack-postgres',
    ).spec.template.spec;
    assert.equal(none.affinity, undefined);
    assert.equal(none.topologySpreadConstraints, undefined);
  });

  it('makes postgres the default container, so the guide kubectl exec and logs lines need no -c', () => {
    const sts = find(prod(), 'StatefulSet', 'pyairtable-stack-postgres');
    assert.equal(
      sts.spec.template.metadata.annotations['kubectl.kubernetes.io/default-container'],
      'postgres',
    );
    assert.ok(
      sts.spec.template.spec.containers.some((c: any) => c.name === 'metrics'),
      'the sidecar is there',
    );
  });
});

describe('Services', () => {
  it('routes read-write traffic through a selector-less Service and the Endpoints Patroni keeps', () => {
    const svc = find(prod(), 'Service', 'pyairtable-stack-postgres');
    assert.equal(svc.spec.selector, undefined);
    assert.deepEqual(svc.spec.ports, [{ name: 'postgresql', port: 5432, targetPort: 5432 }]);
    const ep = find(prod(), 'Endpoints', 'pyairtable-stack-postgres');
    assert.equal(ep.subsets, undefined, 'Patroni writes the addresses; an upgrade must not clear them');
    assert.equal(ep.metadata.labels['pyairtable-stack/cluster'], 'pyairtable-stack-postgres');
    const config = find(prod(), 'Service', 'pyairtable-stack-postgres-config');
    assert.equal(config.spec.clusterIP, 'None');
    assert.equal(config.spec.selector, undefined);
  });

  it('reads from the members Patroni labels replica, only when replicas are enabled', () => {
    assert.equal(
      defaults().find((o) => o.metadata.name === 'pyairtable-stack-postgres-read'),
      undefined,
    );
    const read = find(prod(), 'Service', 'pyairtable-stack-postgres-read');
    assert.equal(read.spec.selector['pyairtable-stack/role'], 'replica');
    find(prod(), 'Service', 'pyairtable-stack-postgres-hl');
  });
});

describe('backups', () => {
  it('runs CronJob pyairtable-stack-postgres-backup at 2 AM: backup, then prune', () => {
    const cj = find(defaults(), 'CronJob', 'pyairtable-stack-postgres-backup');
    assert.equal(cj.spec.schedule, '0 2 * * *');
    assert.equal(cj.spec.concurrencyPolicy, 'Forbid');
    assert.ok(cj.spec.jobTemplate.spec.activeDeadlineSeconds > 0);
    assert.ok(cj.spec.jobTemplate.spec.backoffLimit >= 0);
    assert.ok(cj.spec.successfulJobsHistoryLimit >= 1 && cj.spec.failedJobsHistoryLimit >= 1);
    const spec = cronPod(cj);
    assert.deepEqual(
      spec.initContainers.map((c: any) => c.args),
      [['backup']],
    );
    assert.deepEqual(
      spec.containers.map((c: any) => c.args),
      [['prune']],
    );
    for (const c of containersOf(spec)) {
      assert.equal(envValue(c, 'PGOPS_HOST'), 'pyairtable-stack-postgres.pyairtable.svc.cluster.local');
      assert.equal(envValue(c, 'PGOPS_BACKUP_RETENTION_DAYS'), '7');
      assert.equal(c.volumeMounts.find((m: any) => m.name === 'backups').mountPath, '/backups');
    }
  });

  it('backs up the listed databases, or the application database when none are listed', () => {
    const dbs = (objs: K8sObject[]) => backupEnv(objs, 'backup', 'PGOPS_BACKUP_DATABASES');
    assert.equal(dbs(defaults()), '');
    assert.equal(
      dbs(render(['--set', 'databases.postgres.backup.databases={pyairtable,analytics}'])),
      'pyairtable,analytics',
    );
  });

  it('dumps with one job by default and with backup.jobs parallel jobs when set', () => {
    const jobs = (objs: K8sObject[]) => backupEnv(objs, 'backup', 'PGOPS_BACKUP_JOBS');
    assert.equal(jobs(defaults()), '1');
    assert.equal(jobs(render(set('backup.jobs=4'))), '4');
  });

  it('labels the Job template and its pods postgres-backup, as kubectl get jobs -l expects', () => {
    const cj = find(defaults(), 'CronJob', 'pyairtable-stack-postgres-backup');
    assert.equal(cj.spec.jobTemplate.metadata.labels['app.kubernetes.io/component'], 'postgres-backup');
    assert.equal(
      cj.spec.jobTemplate.spec.template.metadata.labels['app.kubernetes.io/component'],
      'postgres-backup',
    );
  });

  it('uses each environment file retention and backup volume size', () => {
    const retention = (objs: K8sObject[]) => backupEnv(objs, 'prune', 'PGOPS_BACKUP_RETENTION_DAYS');
    assert.equal(retention(staging()), '3');
    assert.equal(retention(prod()), '30');
    const pvc = find(prod(), 'PersistentVolumeClaim', 'pyairtable-stack-postgres-backup-pvc');
    assert.equal(pvc.spec.resources.requests.storage, '200Gi');
    assert.equal(pvc.spec.storageClassName, 'postgres-backup-standard');
    assert.equal(pvc.metadata.annotations['helm.sh/resource-policy'], 'keep');
    assert.equal(
      dev().find((o) => o.kind === 'CronJob'),
      undefined,
      'dev has no backups or snapshots',
    );
  });

  it('reaches PostgreSQL over the read-write Service from every job, following no member', () => {
    for (const pod of pods(allOn())) {
      if (pod.owner.startsWith('StatefulSet/')) continue;
      assert.equal(pod.spec.affinity?.podAffinity, undefined, `${pod.owner} is pinned to a pod`);
      for (const c of containersOf(pod.spec)) {
        const host = envValue(c, 'PGOPS_HOST');
        if (host) assert.equal(host, 'pyairtable-stack-postgres.pyairtable.svc.cluster.local', pod.owner);
      }
    }
  });

  it('mounts the backup volume only in the jobs that write or read backups', () => {
    const mounting = (objs: K8sObject[]) =>
      pods(objs)
        .filter((pod) =>
          pod.spec.volumes?.some(
            (v: any) => v.persistentVolumeClaim?.claimName === 'pyairtable-stack-postgres-backup-pvc',
          ),
        )
        .map((pod) => pod.owner)
        .sort();
    assert.deepEqual(mounting(allOn()), [
      'CronJob/pyairtable-stack-postgres-backup',
      'CronJob/pyairtable-stack-postgres-sync',
      'Job/pyairtable-stack-postgres-migration-2.0.0',
      'Job/pyairtable-stack-postgres-restore-latest',
    ]);
    const sync = pods(allOn()).find((p) => p.owner === 'CronJob/pyairtable-stack-postgres-sync')!;
    assert.equal(
      containersOf(sync.spec)[0].volumeMounts.find((m: any) => m.name === 'backups').readOnly,
      true,
      'sync only reads backups',
    );
  });
});

describe('snapshots', () => {
  it('runs CronJob pyairtable-stack-postgres-snapshot at 3 AM on the volume of the member that leads', () => {
    const cj = find(staging(), 'CronJob', 'pyairtable-stack-postgres-snapshot');
    assert.equal(cj.spec.schedule, '0 3 * * *');
    const c = cronPod(cj).containers[0];
    assert.deepEqual(c.args, ['snapshot']);
    // No fixed PVC: the Job reads the leader from the Endpoints named after the scope.
    assert.equal(envValue(c, 'PGOPS_SNAPSHOT_PVC'), undefined);
    assert.equal(envValue(c, 'PGOPS_SCOPE'), 'pyairtable-stack-postgres');
    assert.equal(envValue(c, 'PGOPS_SNAPSHOT_RETENTION_COUNT'), '5');
    assert.equal(envValue(c, 'PGOPS_SNAPSHOT_CLASS'), 'postgres-snapshots');
    assert.equal(cj.spec.jobTemplate.metadata.labels['app.kubernetes.io/component'], 'postgres-snapshot');
    assert.equal(
      envValue(
        cronPod(find(prod(), 'CronJob', 'pyairtable-stack-postgres-snapshot')).containers[0],
        'PGOPS_SNAPSHOT_RETENTION_COUNT',
      ),
      '14',
    );
  });

  it('creates a Retain VolumeSnapshotClass for the GKE PD CSI driver', () => {
    const vsc = find(staging(), 'VolumeSnapshotClass', 'postgres-snapshots');
    assert.equal(vsc.driver, 'pd.csi.storage.gke.io');
    assert.equal(vsc.deletionPolicy, 'Retain');
    assert.equal(
      render([...toggles.snapshots!, ...set('snapshots.createClass=false')]).find(
        (o) => o.kind === 'VolumeSnapshotClass',
      ),
      undefined,
    );
  });
});

describe('cross-region sync', () => {
  it('runs every 6 hours with the provider, bucket and a mounted GCS key', () => {
    const cj = find(render(toggles.crossRegionGcs!), 'CronJob', 'pyairtable-stack-postgres-sync');
    assert.equal(cj.spec.schedule, '0 */6 * * *');
    const spec = cronPod(cj);
    const c = spec.containers[0];
    assert.deepEqual(c.args, ['sync']);
    assert.equal(envValue(c, 'PGOPS_SYNC_PROVIDER'), 'gcs');
    assert.equal(envValue(c, 'PGOPS_SYNC_BUCKET'), 'dr-bucket');
    assert.equal(envValue(c, 'GOOGLE_APPLICATION_CREDENTIALS'), '/etc/pgops/cloud/credentials.json');
    assert.equal(spec.volumes.find((v: any) => v.name === 'cloud-credentials').secret.secretName, 'gcs-key');
  });

  it('takes S3 and Azure credentials from the Secret by reference, never as literal values', () => {
    const s3 = cronPod(find(render(toggles.crossRegionS3!), 'CronJob', 'pyairtable-stack-postgres-sync'))
      .containers[0];
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      assert.deepEqual(s3.env.find((e: any) => e.name === name).valueFrom.secretKeyRef, {
        name: 's3-keys',
        key: name,
      });
    }
    assert.equal(envValue(s3, 'PGOPS_SYNC_ENDPOINT'), 'https://s3.example.com');
    const az = cronPod(find(render(toggles.crossRegionAzure!), 'CronJob', 'pyairtable-stack-postgres-sync'))
      .containers[0];
    assert.deepEqual(
      az.env.find((e: any) => e.name === 'AZURE_STORAGE_CONNECTION_STRING').valueFrom.secretKeyRef,
      {
        name: 'azure-conn',
        key: 'AZURE_STORAGE_CONNECTION_STRING',
      },
    );
  });
});

describe('restore', () => {
  it('renders Job pyairtable-stack-postgres-restore-latest as a post-install/upgrade hook with the file', () => {
    const job = find(render(toggles.restore!), 'Job', 'pyairtable-stack-postgres-restore-latest');
    assert.equal(job.metadata.annotations['helm.sh/hook'], 'post-install,post-upgrade');
    assert.equal(job.metadata.annotations['helm.sh/hook-delete-policy'], 'before-hook-creation');
    const c = job.spec.template.spec.containers[0];
    assert.equal(c.args[0], 'restore');
    assert.ok(c.args.includes('--yes'), 'a Job has no terminal: the values are the confirmation');
    assert.equal(envValue(c, 'PGOPS_RESTORE_FILE'), '/backups/postgres/backup_20240101_020000.sql.gz');
    assert.equal(envValue(c, 'PGOPS_RESTORE_SAFETY_BACKUP'), 'true');
    assert.equal(
      defaults().find((o) => o.kind === 'Job'),
      undefined,
    );
  });

  it('does not repeat a restore that already succeeded for the same file on later upgrades (lookup)', () => {
    // helm template cannot run lookup: check the template consults the previous Job.
    const text = readFileSync(join(chartDir, 'templates/postgres/restore/job.yaml'), 'utf8');
    assert.match(text, /lookup "batch\/v1" "Job" \.Release\.Namespace \$name/);
    assert.match(text, /"pyairtable-stack\/restore-file"/);
    assert.match(text, /\.succeeded/);
    const job = find(render(toggles.restore!), 'Job', 'pyairtable-stack-postgres-restore-latest');
    assert.equal(
      job.metadata.annotations['pyairtable-stack/restore-file'],
      '/backups/postgres/backup_20240101_020000.sql.gz',
    );
  });
});

describe('restore from another region', () => {
  it('gives the restore Job the object store and its credentials when backupFile is a URL', () => {
    const objs = render([
      ...toggles.crossRegionS3!,
      ...set(
        'restore.enabled=true',
        'restore.backupFile=s3://dr-bucket/postgres/backup_20240101_020000.dump',
      ),
    ]);
    const job = find(objs, 'Job', 'pyairtable-stack-postgres-restore-latest');
    const c = job.spec.template.spec.containers[0];
    assert.equal(envValue(c, 'PGOPS_SYNC_PROVIDER'), 's3');
    assert.equal(envValue(c, 'PGOPS_SYNC_BUCKET'), 'dr-bucket');
    assert.deepEqual(c.env.find((e: any) => e.name === 'AWS_SECRET_ACCESS_KEY').valueFrom.secretKeyRef, {
      name: 's3-keys',
      key: 'AWS_SECRET_ACCESS_KEY',
    });
    assert.equal(job.spec.template.spec.serviceAccountName, 'pyairtable-stack-postgres-sync');
    const plain = find(render(toggles.restore!), 'Job', 'pyairtable-stack-postgres-restore-latest');
    assert.equal(envValue(plain.spec.template.spec.containers[0], 'PGOPS_SYNC_BUCKET'), undefined);
    assert.equal(plain.spec.template.spec.serviceAccountName, 'pyairtable-stack-postgres-backup');
  });
});

describe('secret and configuration', () => {
  it('generates the five passwords once and keeps them across upgrades (lookup) and uninstall', () => {
    const secret = find(defaults(), 'Secret', 'pyairtable-stack-postgres');
    assert.deepEqual(Object.keys(secret.data).sort(), [
      'monitor-password',
      'password',
      'postgres-password',
      'replication-password',
      'restapi-password',
    ]);
    for (const v of Object.values<string>(secret.data))
      assert.equal(Buffer.from(v, 'base64').toString().length, 24);
    assert.equal(secret.metadata.annotations['helm.sh/resource-policy'], 'keep');
    // helm template cannot run lookup; the template must use it to reuse the stored values.
    const text = readFileSync(join(chartDir, 'templates/postgres/members/secret.yaml'), 'utf8');
    assert.match(text, /lookup "v1" "Secret" \.Release\.Namespace \$name/);
    assert.match(text, /index \$existing \$key \| default \(randAlphaNum 24 \| b64enc\)/);
  });

  it('uses an existing Secret without creating one, and mounts passwords as files only', () => {
    const objs = render(toggles.existingSecret!);
    assert.equal(
      objs.find((o) => o.kind === 'Secret'),
      undefined,
    );
    for (const pod of pods(objs)) {
      const vol = pod.spec.volumes.find((v: any) => v.name === 'secrets');
      assert.equal(vol.secret.secretName, 'my-postgres-passwords', pod.owner);
      for (const c of containersOf(pod.spec)) {
        for (const e of c.env ?? []) {
          assert.ok(
            !e.valueFrom?.secretKeyRef || !String(e.valueFrom.secretKeyRef.name).includes('postgres'),
            `${pod.owner}: ${e.name} from the password Secret`,
          );
        }
      }
    }
  });

  it('renders the same output at every render with existingSecret, as GitOps renderers need (helm template cannot look up)', () => {
    const args = templateArgs([
      ...toggles.existingSecret!,
      '--set',
      'databases.postgres.auth.restapiPasswordKey=patroni-api',
      '--set',
      'databases.postgres.auth.monitorPasswordKey=exporter',
    ]);
    const first = helmRun(args);
    const second = helmRun(args);
    assert.ok(first.ok, first.stderr);
    assert.equal(first.stdout, second.stdout, 'an Argo CD sync would see a change at every refresh');
    const spec = find(parseManifests(first.stdout), 'StatefulSet', 'pyairtable-stack-postgres').spec.template
      .spec;
    assert.deepEqual(spec.volumes.find((v: any) => v.name === 'secrets').secret.items, [
      { key: 'postgres-password', path: 'superuser-password' },
      { key: 'replication-password', path: 'replication-password' },
      { key: 'password', path: 'password' },
      { key: 'patroni-api', path: 'restapi-password' },
      { key: 'exporter', path: 'monitor-password' },
    ]);
    // Without it, each render generates new passwords: what lookup prevents on a real install only.
    const generated = (r: { stdout: string }) =>
      find(parseManifests(r.stdout), 'Secret', 'pyairtable-stack-postgres').data['postgres-password'];
    assert.notEqual(generated(helmRun(templateArgs([]))), generated(helmRun(templateArgs([]))));
  });

  it('exports postgres_exporter metrics on 9187 through pyairtable-stack-postgres-metrics', () => {
    const spec = find(defaults(), 'StatefulSet', 'pyairtable-stack-postgres').spec.template.spec;
    const m = container(spec, 'metrics');
    assert.equal(m.image, 'quay.io/prometheuscommunity/postgres-exporter:v0.11.1');
    assert.deepEqual(m.ports, [{ name: 'metrics', containerPort: 9187 }]);
    assert.equal(
      envValue(m, 'DATA_SOURCE_URI'),
      '127.0.0.1:5432/postgres?sslmode=disable&application_name=postgres_exporter',
    );
    // The pg_monitor role the leader's agent keeps, never the superuser; it sees only its own password.
    assert.equal(envValue(m, 'DATA_SOURCE_USER'), 'pgops_monitor');
    assert.equal(envValue(m, 'DATA_SOURCE_PASS_FILE'), '/etc/pgops/secrets/monitor-password');
    const mounted = m.volumeMounts.find((v: any) => v.mountPath === '/etc/pgops/secrets').name;
    assert.deepEqual(
      spec.volumes.find((v: any) => v.name === mounted).secret.items.map((i: any) => i.path),
      ['monitor-password'],
    );
    assert.equal(envValue(m, 'PG_EXPORTER_EXTEND_QUERY_PATH'), '/etc/postgres-exporter/queries.yaml');
    assert.equal(
      spec.volumes.find((v: any) => v.name === 'exporter-queries').configMap.name,
      'pyairtable-stack-postgres-exporter-queries',
    );
    const svc = find(defaults(), 'Service', 'pyairtable-stack-postgres-metrics');
    assert.equal(svc.metadata.labels['app.kubernetes.io/component'], 'postgres-metrics');
    assert.equal(svc.spec.ports[0].port, 9187);
    const off = render(toggles.monitoringOff!);
    assert.equal(
      container(find(off, 'StatefulSet', 'pyairtable-stack-postgres').spec.template.spec, 'metrics'),
      undefined,
    );
  });
});

describe('storage classes', () => {
  const byName = (objs: K8sObject[]) =>
    new Map(objs.filter((o) => o.kind === 'StorageClass').map((o) => [o.metadata.name, o]));

  it('creates the four classes of the guide with its reclaim, binding, type and regional settings', () => {
    const sc = byName(defaults());
    assert.deepEqual([...sc.keys()].sort(), [
      'postgres-backup-standard',
      'postgres-dev-ssd',
      'postgres-prod-ssd',
      'postgres-staging-balanced',
    ]);
    const expect: Record<string, [string, string, Record<string, string>]> = {
      'postgres-dev-ssd': ['Delete', 'WaitForFirstConsumer', { type: 'pd-ssd' }],
      'postgres-staging-balanced': [
        'Retain',
        'WaitForFirstConsumer',
        { type: 'pd-balanced', 'replication-type': 'regional-pd' },
      ],
      'postgres-prod-ssd': [
        'Retain',
        'WaitForFirstConsumer',
        { type: 'pd-ssd', 'replication-type': 'regional-pd' },
      ],
      'postgres-backup-standard': ['Retain', 'Immediate', { type: 'pd-standard' }],
    };
    for (const [name, [reclaim, binding, params]] of Object.entries(expect)) {
      const c = sc.get(name)!;
      assert.equal(c.provisioner, 'pd.csi.storage.gke.io', name);
      assert.equal(c.reclaimPolicy, reclaim, name);
      assert.equal(c.volumeBindingMode, binding, name);
      assert.equal(c.allowVolumeExpansion, true, name);
      assert.deepEqual(c.parameters, params, name);
    }
  });

  it('adds the CMEK key to every class but dev, and follows an overridden provisioner', () => {
    const sc = byName(
      render(
        set(
          'storageClasses.diskEncryptionKmsKey=projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k',
          'storageClasses.provisioner=ebs.csi.aws.com',
        ),
      ),
    );
    for (const name of ['postgres-staging-balanced', 'postgres-prod-ssd', 'postgres-backup-standard']) {
      assert.match(sc.get(name)!.parameters['disk-encryption-kms-key'], /cryptoKeys\/k$/);
    }
    assert.equal(sc.get('postgres-dev-ssd')!.parameters['disk-encryption-kms-key'], undefined);
    assert.equal(sc.get('postgres-dev-ssd')!.provisioner, 'ebs.csi.aws.com');
    assert.equal(byName(render(toggles.storageClassesOff!)).size, 0);
  });

  it('puts each environment data volume on its own class and size', () => {
    const claim = (objs: K8sObject[]) =>
      find(objs, 'StatefulSet', 'pyairtable-stack-postgres').spec.volumeClaimTemplates[0].spec;
    assert.deepEqual(
      [claim(dev()).storageClassName, claim(dev()).resources.requests.storage],
      ['postgres-dev-ssd', '5Gi'],
    );
    assert.deepEqual(
      [claim(staging()).storageClassName, claim(staging()).resources.requests.storage],
      ['postgres-staging-balanced', '20Gi'],
    );
    assert.deepEqual(
      [claim(prod()).storageClassName, claim(prod()).resources.requests.storage],
      ['postgres-prod-ssd', '100Gi'],
    );
  });
});

describe('helm test', () => {
  it('has a test pod that connects through the read-write Service and runs a query', () => {
    const pod = find(defaults(), 'Pod', 'pyairtable-stack-postgres-test-connection');
    assert.equal(pod.metadata.annotations['helm.sh/hook'], 'test');
    const script: string = pod.spec.containers[0].args.join('\n');
    assert.match(script, /psql .*-h pyairtable-stack-postgres\.pyairtable\.svc\.cluster\.local/s);
    assert.match(script, /SELECT/);
    assert.match(script, /PGPASSFILE=/);
  });
});

describe('NOTES.txt', () => {
  function notes(args: string[]): string {
    const r = helmRun(['install', ...args, '--dry-run=client']);
    assert.ok(r.ok, r.stderr);
    return r.stdout.slice(r.stdout.indexOf('NOTES:'));
  }

  it('prints the commands to check and connect, with the right names', () => {
    const text = notes([
      'pyairtable-stack',
      './helm/pyairtable-stack',
      '-n',
      'pyairtable',
      '--values',
      'values-prod.yaml',
    ]);
    assert.match(text, /\.\/scripts\/postgres-ops\.sh -n pyairtable status/);
    assert.match(text, /pyairtable-stack-postgres\.pyairtable\.svc\.cluster\.local:5432/);
    assert.match(text, /pyairtable-stack-postgres-read\.pyairtable/);
    assert.match(
      text,
      /Members: +3 in StatefulSet pyairtable-stack-postgres .*failover automatic, synchronous/,
    );
    assert.match(text, /PVC postgres-storage-pyairtable-stack-postgres-N \(100Gi, postgres-prod-ssd\)/);
    assert.match(text, /--from=cronjob\/pyairtable-stack-postgres-backup/);
    assert.match(text, /kubectl get volumesnapshots -n pyairtable/);
  });

  it('says which restore Job to follow and how to turn a point-in-time restore off', () => {
    const text = notes([
      'pyairtable-stack',
      './helm/pyairtable-stack',
      '-n',
      'pyairtable',
      ...toggles.pitrRestoreTime!,
    ]);
    assert.match(text, /The whole cluster is restored to 2026-11-30T14:02:59\+00:00/);
    assert.match(text, /kubectl logs -n pyairtable -f job\/pyairtable-stack-postgres-restore-pitr/);
    assert.match(
      text,
      /--set databases\.postgres\.restore\.enabled=false --set databases\.postgres\.restore\.targetTime=""/,
    );
    assert.doesNotMatch(text, /restore-latest/);
    const logical = notes([
      'pyairtable-stack',
      './helm/pyairtable-stack',
      '-n',
      'pyairtable',
      ...toggles.restore!,
    ]);
    assert.match(logical, /job\/pyairtable-stack-postgres-restore-latest/);
    assert.doesNotMatch(logical, /restore-pitr/);
  });

  it('names the release for postgres-ops when it is not the default one', () => {
    assert.match(
      notes(['other', './helm/pyairtable-stack', '-n', 'team']),
      /postgres-ops\.sh --release other -n team status/,
    );
  });
});
