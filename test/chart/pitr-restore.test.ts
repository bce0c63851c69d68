/**
 * The whole cluster back to a point in time from Helm: restore.targetTime or restore.latest (with
 * PITR on) renders a hook Job running `postgres-agent cluster-restore` under its own ServiceAccount,
 * allowed exactly the API calls it makes; every member carries a restore-request init container
 * with the postgres container's environment and mounts whenever PITR is on, so asking for a restore
 * never changes the members' pod template; nothing of it renders otherwise.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { chartDir } from '../support/tools.js';
import { find, render, toggles, type K8sObject } from './render.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped JSON */

const set = (...pairs: string[]) => pairs.flatMap((p) => ['--set', `databases.postgres.${p}`]);
const FN = 'pyairtable-stack-postgres';
const JOB = `${FN}-restore-pitr`;
const TIME = '2026-11-30T14:02:59+00:00';

const job = (objs: K8sObject[]) => find(objs, 'Job', JOB);
const restoreContainer = (objs: K8sObject[]) => job(objs).spec.template.spec.containers[0];
const memberSpec = (objs: K8sObject[]) => find(objs, 'StatefulSet', FN).spec.template.spec;
const named = (list: any[] | undefined, name: string) => (list ?? []).find((c: any) => c.name === name);
/** Kind/name of the objects of the point-in-time restore: the Job and its identity. */
const pitrRestoreObjects = (objs: K8sObject[]) =>
  objs.filter((o) => o.metadata.name === JOB).map((o) => `${o.kind}/${o.metadata.name}`);

describe('whole-cluster point-in-time restore Job', () => {
  it('restores to targetTime through a post-install/upgrade hook Job whose values are the confirmation', () => {
    const objs = render(toggles.pitrRestoreTime!);
    const j = job(objs);
    assert.equal(j.metadata.annotations['helm.sh/hook'], 'post-install,post-upgrade');
    assert.equal(j.metadata.annotations['helm.sh/hook-delete-policy'], 'before-hook-creation');
    assert.equal(j.metadata.annotations['pyairtable-stack/restore-target'], TIME);
    assert.equal(j.spec.backoffLimit, 0, 'a failed restore is investigated, not retried');
    assert.equal(j.spec.activeDeadlineSeconds, 21600);
    const spec = j.spec.template.spec;
    assert.equal(spec.restartPolicy, 'Never');
    assert.equal(spec.serviceAccountName, JOB);
    assert.equal(spec.automountServiceAccountToken, true);
    const c = restoreContainer(objs);
    assert.equal(c.name, 'restore');
    assert.deepEqual(c.command, ['tini', '--', 'postgres-agent']);
    assert.deepEqual(c.args, ['cluster-restore', '--yes', '--time', TIME]);
    assert.deepEqual(c.env, [
      { name: 'PGOPS_RELEASE', value: 'pyairtable-stack' },
      { name: 'PGOPS_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'PGOPS_LOG_FORMAT', value: 'json' },
      { name: 'PGOPS_PITR', value: 'true' },
      { name: 'PGOPS_PGBACKREST_REPO_POD', value: `${FN}-repo-0` },
      { name: 'PGOPS_SCOPE', value: FN },
    ]);
    assert.deepEqual(c.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
    assert.deepEqual(spec.volumes, [{ name: 'tmp', emptyDir: {} }]);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  });

  it('restores to the last archived commit with latest, and takes its time limit and resources from values', () => {
    const objs = render([
      ...toggles.pitrRestoreLatest!,
      ...set('restore.activeDeadlineSeconds=36000', 'jobs.resources.limits.memory=3Gi'),
    ]);
    const j = job(objs);
    assert.deepEqual(restoreContainer(objs).args, ['cluster-restore', '--yes', '--latest']);
    assert.equal(j.metadata.annotations['pyairtable-stack/restore-target'], 'latest');
    assert.equal(j.spec.activeDeadlineSeconds, 36000);
    assert.equal(restoreContainer(objs).resources.limits.memory, '3Gi');
  });

  it('does not repeat a restore that already succeeded for the same target on later upgrades (lookup)', () => {
    // helm template cannot run lookup: check the template consults the previous Job.
    const text = readFileSync(join(chartDir, 'templates/postgres/restore/pitr-job.yaml'), 'utf8');
    assert.match(text, /lookup "batch\/v1" "Job" \.Release\.Namespace \$name/);
    assert.match(text, /"pyairtable-stack\/restore-target" \| default ""\) \$target/);
    assert.match(text, /\.succeeded/);
  });

  it('lets the Job scale the members, hand over the request and exec into the repository pod, each object by name where Kubernetes allows it, and never touch Patroni’s records (member 0 clears them once restored)', () => {
    const objs = render(toggles.pitrRestoreTime!);
    const role = find(objs, 'Role', JOB);
    assert.deepEqual(role.rules, [
      { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: [FN], verbs: ['get'] },
      {
        apiGroups: ['apps'],
        resources: ['statefulsets/scale'],
        resourceNames: [FN],
        verbs: ['get', 'patch'],
      },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      {
        apiGroups: [''],
        resources: ['pods/exec'],
        resourceNames: [`${FN}-repo-0`],
        verbs: ['create', 'get'],
      },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: [`${FN}-restore-request`],
        verbs: ['get', 'patch'],
      },
    ]);
    // Never: secrets, PVCs, services, other pods' exec, wildcards, cluster-wide roles.
    const text = JSON.stringify(role.rules);
    for (const word of [
      'secrets',
      'persistentvolumeclaims',
      'services',
      'endpoints',
      'delete',
      'deletecollection',
      '*',
    ])
      assert.ok(!text.includes(`"${word}"`), `the restore Job may ${word}`);
    assert.equal(objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding').length, 0);
    const rb = find(objs, 'RoleBinding', JOB);
    assert.deepEqual(rb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: JOB });
    assert.deepEqual(rb.subjects, [{ kind: 'ServiceAccount', name: JOB, namespace: 'pyairtable' }]);
    assert.equal(find(objs, 'ServiceAccount', JOB).automountServiceAccountToken, false);
  });

  it('renders no point-in-time restore Job, ServiceAccount or Role without targetTime or latest', () => {
    for (const args of [
      [],
      toggles.pitr!,
      ['--values', 'values-prod.yaml'],
      [...toggles.pitr!, ...toggles.restore!],
      set('pitr.enabled=true', `restore.targetTime=${TIME}`),
      set('pitr.enabled=true', 'restore.latest=true'),
    ])
      assert.deepEqual(pitrRestoreObjects(render(args)), [], args.join(' '));
    assert.deepEqual(pitrRestoreObjects(render(toggles.pitrRestoreTime!)), [
      `ServiceAccount/${JOB}`,
      `Role/${JOB}`,
      `RoleBinding/${JOB}`,
      `Job/${JOB}`,
    ]);
  });

  it('runs the logical restore Job only for backupFile, and no backup volume for a point-in-time restore alone', () => {
    const logical = `${FN}-restore-latest`;
    const has = (objs: K8sObject[], kind: string, name: string) =>
      objs.some((o) => o.kind === kind && o.metadata.name === name);
    assert.equal(has(render(toggles.pitrRestoreTime!), 'Job', logical), false);
    assert.equal(has(render(toggles.pitrRestoreLatest!), 'Job', logical), false);
    assert.equal(has(render([...toggles.pitr!, ...toggles.restore!]), 'Job', logical), true);
    const noBackups = render([...toggles.pitrRestoreTime!, ...set('backup.enabled=false')]);
    assert.equal(has(noBackups, 'PersistentVolumeClaim', `${FN}-backup-pvc`), false);
    assert.equal(
      has(
        render([...toggles.restore!, ...set('backup.enabled=false')]),
        'PersistentVolumeClaim',
        `${FN}-backup-pvc`,
      ),
      true,
    );
  });
});

describe('restore-request init container of the members', () => {
  it('runs postgres-agent restore-request before postgres, with exactly its image, env, mounts, resources and security context', () => {
    for (const args of [
      set('pitr.enabled=true', 'replication.enabled=true', 'replication.replicas=2'),
      // TLS and repo2 add env and mounts: the init container gets them too.
      ['--values', 'values-prod.yaml', ...toggles.tls!, ...toggles.crossRegionS3!, ...set('pitr.repo2=true')],
    ]) {
      const spec = memberSpec(render(args));
      assert.deepEqual(
        spec.initContainers.map((c: any) => c.name),
        ['restore-request'],
      );
      const init = spec.initContainers[0];
      const pg = named(spec.containers, 'postgres');
      assert.deepEqual(init.command, ['tini', '--', 'postgres-agent']);
      assert.deepEqual(init.args, ['restore-request']);
      for (const key of ['image', 'imagePullPolicy', 'env', 'volumeMounts', 'resources', 'securityContext'])
        assert.deepEqual(init[key], pg[key], `${key}: ${args.join(' ')}`);
      assert.ok(init.env.some((e: any) => e.name === 'PGOPS_PITR' && e.value === 'true'));
      // An init container serves nothing and is not probed.
      for (const key of ['ports', 'startupProbe', 'readinessProbe', 'livenessProbe'])
        assert.equal(init[key], undefined, key);
    }
  });

  it('is absent with PITR off, whatever the restore values', () => {
    for (const args of [[], ['--values', 'values-dev.yaml'], toggles.restore!])
      assert.equal(memberSpec(render(args)).initContainers, undefined, args.join(' '));
  });

  it('lets the members read and record the restore request only with PITR on, and that ConfigMap only', () => {
    const rule = (objs: K8sObject[]) =>
      find(objs, 'Role', FN).rules.filter((r: any) => r.resources.includes('configmaps'));
    assert.deepEqual(rule(render(toggles.pitr!)), [
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: [`${FN}-restore-request`],
        verbs: ['get', 'patch'],
      },
    ]);
    assert.deepEqual(rule(render([])), []);
  });
});
