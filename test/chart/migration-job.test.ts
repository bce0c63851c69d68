/**
 * The migration Job and its ConfigMap as `helm template` renders them, for the guide's command:
 * names, hook, the env contract with postgres-agent, Pod Security "restricted", the SQL it mounts.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigMap } from 'kubernetes-models/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { parseAllDocuments } from 'yaml';
import { parseAgentEnv } from '../../src/core/config/schema.js';
import { migrationJobName } from '../../src/core/migrate/version.js';
import { cleanupAll } from '../support/cleanup.js';
import { chartDir, helm } from '../support/tools.js';

after(cleanupAll);

const guideSets = [
  'databases.postgres.migration.enabled=true',
  'databases.postgres.migration.version=2.0.0',
  'databases.postgres.migration.description=Add user management tables',
];

// Rendered manifests are walked loosely; kubernetes-models validates their shape.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = {
  kind: string;
  metadata: { name: string; labels: Record<string, string>; annotations?: Record<string, string> };
} & Record<string, any>;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Our two templates, rendered one at a time: helm refuses --show-only for a template that renders nothing. */
function render(sets: string[] = guideSets, valuesYaml?: string, extra: string[] = []): Obj[] {
  return ['job.yaml', 'configmap.yaml'].flatMap((t) => {
    const args = ['template', 'pyairtable-stack', chartDir, ...extra];
    for (const s of sets) args.push('--set', s);
    if (valuesYaml !== undefined) args.push('-f', '-');
    args.push('--show-only', `templates/postgres/migration/${t}`);
    let out: string;
    try {
      out = helm(args, { input: valuesYaml });
    } catch (err) {
      const stderr = String((err as { stderr?: string }).stderr ?? '');
      if (/could not find template/.test(stderr)) return [];
      throw err;
    }
    return parseAllDocuments(out)
      .map((d) => d.toJSON() as Obj | null)
      .filter((o): o is Obj => o !== null);
  });
}

function renderError(sets: string[], valuesYaml?: string): string {
  try {
    render(sets, valuesYaml);
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  assert.fail('expected helm template to fail');
}

const jobOf = (objs: Obj[]) => objs.find((o) => o.kind === 'Job');

/** The container's env as the agent would see it (fieldRefs given plausible values). */
function envOf(job: Obj): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of job.spec.template.spec.containers[0].env as {
    name: string;
    value?: string;
    valueFrom?: unknown;
  }[]) {
    env[e.name] = e.value ?? (e.name === 'PGOPS_NAMESPACE' ? 'default' : 'pod-0');
  }
  return env;
}

describe('migration Job chart', () => {
  it('renders the guide command as Job pyairtable-stack-postgres-migration-2.0.0, a post-install/upgrade hook', () => {
    const job = jobOf(render())!;
    assert.equal(job.metadata.name, 'pyairtable-stack-postgres-migration-2.0.0');
    assert.equal(job.metadata.name, migrationJobName('pyairtable-stack-postgres', '2.0.0'));
    assert.equal(job.metadata.annotations!['helm.sh/hook'], 'post-install,post-upgrade');
    assert.equal(job.metadata.annotations!['helm.sh/hook-delete-policy'], 'before-hook-creation');
    assert.equal(job.metadata.labels['app.kubernetes.io/component'], 'postgres-migration');
    assert.ok(job.spec.backoffLimit <= 2);
    assert.ok(job.spec.activeDeadlineSeconds > 0);
    assert.equal(job.spec.template.spec.restartPolicy, 'Never');
    const c = job.spec.template.spec.containers[0];
    assert.deepEqual([...c.command, ...c.args], ['tini', '--', 'postgres-agent', 'migrate']);
    new Job(job as never).validate();
  });

  it('passes an env the agent accepts, with the version, description and mount the agent reads', () => {
    const job = jobOf(render())!;
    const env = envOf(job);
    const parsed = parseAgentEnv(env);
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
    assert.equal(parsed.value.PGOPS_MIGRATION_VERSION, '2.0.0');
    assert.equal(parsed.value.PGOPS_MIGRATION_DESCRIPTION, 'Add user management tables');
    assert.equal(parsed.value.PGOPS_MIGRATION_SAFETY_BACKUP, true);
    assert.equal(parsed.value.PGOPS_APP_DATABASE, 'pyairtable');
    assert.match(parsed.value.PGOPS_HOST, /^pyairtable-stack-postgres\./);
    const spec = job.spec.template.spec;
    const mounts = spec.containers[0].volumeMounts as { name: string; mountPath: string }[];
    const mountOf = (path: string) =>
      mounts.find((m) => path.startsWith(m.mountPath + '/') || path === m.mountPath);
    assert.equal(mountOf(`${parsed.value.PGOPS_MIGRATION_DIR}/2.0.0`)?.name, 'migrations');
    const secretMount = mountOf(parsed.value.PGOPS_SUPERUSER_PASSWORD_FILE!);
    const secretVol = spec.volumes.find((v: { name: string }) => v.name === secretMount?.name);
    assert.ok(secretVol?.secret, 'the superuser password file comes from a Secret volume');
    assert.equal(mountOf(`${parsed.value.PGOPS_BACKUP_DIR}/x`)?.name, 'backups');
  });

  it('ships the 2.0.0 SQL files in a ConfigMap that the Job mounts at /migrations/2.0.0', () => {
    const objs = render();
    const cm = objs.find((o) => o.kind === 'ConfigMap')!;
    new ConfigMap(cm as never).validate();
    const shipped = readdirSync(join(chartDir, 'files', 'migrations', '2.0.0')).sort();
    assert.deepEqual(shipped, ['001_users.sql', '002_roles.sql', '003_owner.sql']);
    assert.deepEqual(Object.keys(cm.data).sort(), shipped);
    for (const f of shipped)
      assert.equal(cm.data[f], readFileSync(join(chartDir, 'files', 'migrations', '2.0.0', f), 'utf8'));
    const vol = jobOf(objs)!.spec.template.spec.volumes.find(
      (v: { name: string }) => v.name === 'migrations',
    );
    assert.deepEqual(vol.projected.sources, [{ configMap: { name: cm.metadata.name } }]);
  });

  it('meets Pod Security "restricted" with a read-only root and a writable /tmp', () => {
    const spec = jobOf(render())!.spec.template.spec;
    assert.equal(spec.securityContext.runAsNonRoot, true);
    assert.equal(spec.securityContext.runAsUser, 999);
    assert.equal(spec.securityContext.fsGroup, 999);
    assert.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(spec.automountServiceAccountToken, false);
    for (const c of spec.containers) {
      const sc = c.securityContext;
      assert.equal(sc.allowPrivilegeEscalation, false);
      assert.deepEqual(sc.capabilities.drop, ['ALL']);
      assert.equal(sc.readOnlyRootFilesystem, true);
      assert.notEqual(sc.privileged, true);
    }
    const tmp = spec.containers[0].volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
    assert.ok(spec.volumes.find((v: { name: string; emptyDir?: object }) => v.name === tmp.name)?.emptyDir);
    assert.ok(!spec.volumes.some((v: { hostPath?: object }) => v.hostPath));
  });

  it('mounts the backup volume for the safety backup only, follows no member, and reaches the leader over the read-write Service', () => {
    const job = jobOf(render())!;
    const withBackup = job.spec.template.spec;
    assert.ok(
      withBackup.volumes.some(
        (v: { persistentVolumeClaim?: { claimName: string } }) =>
          v.persistentVolumeClaim?.claimName === 'pyairtable-stack-postgres-backup-pvc',
      ),
    );
    assert.equal(withBackup.affinity, undefined, 'a member that moved must not strand the Job');
    assert.equal(envOf(job).PGOPS_HOST, 'pyairtable-stack-postgres.default.svc.cluster.local');
    const without = jobOf(render([...guideSets, 'databases.postgres.migration.safetyBackup=false']))!;
    assert.equal(envOf(without).PGOPS_MIGRATION_SAFETY_BACKUP, 'false');
    assert.equal(
      jobOf(render([...guideSets, 'databases.postgres.migration.backoffLimit=0']))!.spec.backoffLimit,
      0,
    );
    assert.ok(
      !without.spec.template.spec.volumes.some(
        (v: { persistentVolumeClaim?: object }) => v.persistentVolumeClaim,
      ),
    );
    assert.equal(without.spec.template.spec.affinity, undefined);
  });

  it('names Jobs for other versions exactly as the agent code does, within 57 characters', () => {
    // values.schema.json allows lowercase versions of up to 40 characters; the template also copes
    // with anything the agent accepts, so the schema is skipped for the odd ones.
    for (const [release, version, skipSchema] of [
      ['pyairtable-stack', '2026.11.25-add-user-management-tables', false],
      ['a-rather-long-release-name-for-testing', '2.0.0-rc.1', false],
      ['prod', '3', false],
      ['pyairtable-stack', 'V2_Users', true],
    ] as const) {
      const args = ['template', release, chartDir, ...(skipSchema ? ['--skip-schema-validation'] : [])];
      args.push(
        '--set',
        'databases.postgres.migration.enabled=true',
        '--set',
        `databases.postgres.migration.version=${version}`,
      );
      args.push(
        '--set',
        'databases.postgres.migration.configMap=my-sql',
        '--show-only',
        'templates/postgres/migration/job.yaml',
      );
      const job = parseAllDocuments(helm(args))[0]!.toJSON() as Obj;
      assert.equal(job.metadata.name, migrationJobName(`${release}-postgres`, version));
      assert.ok(job.metadata.name.length <= 57, job.metadata.name);
      assert.equal(job.spec.template.spec.volumes[0].projected.sources[0].configMap.name, 'my-sql');
      new Job(job as never).validate();
    }
    assert.equal(
      migrationJobName('pyairtable-stack-postgres', 'V2_Users'),
      'pyairtable-stack-postgres-migration-v2-users',
    );
  });

  it("mounts a user's ConfigMap when the version has no files in the chart", () => {
    const objs = render([
      ...guideSets.slice(0, 1),
      'databases.postgres.migration.version=2.1.0',
      'databases.postgres.migration.configMap=app-migrations-2.1.0',
    ]);
    assert.equal(objs.filter((o) => o.kind === 'ConfigMap').length, 0);
    const vol = jobOf(objs)!.spec.template.spec.volumes.find(
      (v: { name: string }) => v.name === 'migrations',
    );
    assert.deepEqual(vol.projected.sources, [{ configMap: { name: 'app-migrations-2.1.0' } }]);
  });

  it('fails to render, saying what to do, for a version without files or given as a bare number', () => {
    assert.match(
      renderError([guideSets[0]!, 'databases.postgres.migration.version=9.9.9']),
      /9\.9\.9 has no SQL files: add helm\/pyairtable-stack\/files\/migrations\/9\.9\.9/,
    );
    const floatValues =
      'databases:\n  postgres:\n    migration:\n      enabled: true\n      version: 2.10\n      configMap: x\n';
    assert.match(renderError([], floatValues), /is a number: quote it|got number, want string/);
    assert.match(
      renderError([guideSets[0]!, 'databases.postgres.migration.version=../etc']),
      /not a valid version/,
    );
  });

  it('renders no migration objects while migration is disabled', () => {
    assert.deepEqual(render([]), []);
  });
});
