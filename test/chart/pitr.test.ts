/**
 * Point-in-time recovery in the chart: the repository pod with repo1 on its own volume and
 * pgBackRest's TLS server, the members' archive settings and TLS link, a certificate that names
 * every member and the repository pod, the backup and drill CronJobs that exec into exactly that
 * pod, and nothing at all when it is off.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { containersOf, find, render, type K8sObject } from './render.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped JSON */

const set = (...pairs: string[]) => pairs.flatMap((p) => ['--set', `databases.postgres.${p}`]);
const on = () => render(set('pitr.enabled=true', 'replication.enabled=true', 'replication.replicas=2'));
const FN = 'pyairtable-stack-postgres';
const REPO_HOST = `${FN}-repo-0.${FN}-repo.pyairtable.svc.cluster.local`;

/** Plain env values of a container (references stay out: the contract test checks those). */
const envOf = (c: any): Record<string, string> =>
  Object.fromEntries(
    (c.env ?? []).filter((e: any) => 'value' in e).map((e: any) => [e.name, String(e.value)]),
  );
const member = (objs: K8sObject[]) => find(objs, 'StatefulSet', FN).spec.template.spec;
const container = (spec: any, name: string) => spec.containers.find((c: any) => c.name === name);

describe('point-in-time recovery in the chart', () => {
  it('renders nothing of it when off, and the members archive with `true`', () => {
    const objs = render([]);
    assert.deepEqual(
      objs
        .filter((o) => /-repo|-pitr|pgbackrest|-drill/.test(o.metadata.name))
        .map((o) => `${o.kind}/${o.metadata.name}`),
      [],
    );
    assert.equal(envOf(container(member(objs), 'postgres')).PGOPS_PITR, undefined);
  });

  it('runs the repository pod with repo1 on its own volume, the TLS server and every member as a backup source', () => {
    const objs = on();
    const sts = find(objs, 'StatefulSet', `${FN}-repo`);
    assert.equal(sts.spec.replicas, 1);
    assert.equal(sts.spec.serviceName, `${FN}-repo`);
    const c = container(sts.spec.template.spec, 'repo');
    assert.deepEqual(c.args, ['repo-host']);
    const env = envOf(c);
    assert.equal(env.PGOPS_PGBACKREST_REPO1_PATH, '/pgbackrest/repo1');
    assert.equal(
      env.PGOPS_PGBACKREST_PG_HOSTS,
      [0, 1, 2].map((i) => `${FN}-${i}.${FN}-hl.pyairtable.svc.cluster.local`).join(','),
    );
    assert.equal(env.PGOPS_PGBACKREST_RETENTION_FULL, '2');
    assert.deepEqual(sts.spec.volumeClaimTemplates[0].spec.resources.requests, { storage: '50Gi' });
    const svc = find(objs, 'Service', `${FN}-repo`);
    assert.equal(svc.spec.clusterIP, 'None');
    assert.deepEqual(
      svc.spec.ports.map((p: any) => p.port),
      [8432],
    );
    assert.equal(sts.spec.template.spec.automountServiceAccountToken, false);
  });

  it("gives the members the archive settings, repo1's TLS host and pgBackRest's port, and never a schedule or retention", () => {
    const spec = member(on());
    const c = container(spec, 'postgres');
    const env = envOf(c);
    assert.equal(env.PGOPS_PITR, 'true');
    assert.equal(env.PGOPS_PGBACKREST_REPO1_HOST, REPO_HOST);
    assert.equal(env.PGOPS_ARCHIVE_TIMEOUT_SECONDS, '60');
    assert.equal(env.PGOPS_PGBACKREST_TLS_DIR, '/etc/pgops/pgbackrest-tls');
    assert.equal(env.PGOPS_PGBACKREST_RETENTION_FULL, undefined);
    assert.ok(c.ports.some((p: any) => p.containerPort === 8432));
    assert.ok(c.volumeMounts.some((m: any) => m.mountPath === '/etc/pgops/pgbackrest-tls' && m.readOnly));
  });

  it('generates one certificate, for the admitted client name, valid for every member and the repository pod', () => {
    const secret = find(on(), 'Secret', `${FN}-pgbackrest-tls`);
    assert.equal(secret.metadata.annotations['helm.sh/resource-policy'], 'keep');
    const pem = (k: string) => Buffer.from(secret.data[k], 'base64').toString();
    const cert = new X509Certificate(pem('tls.crt'));
    const ca = new X509Certificate(pem('ca.crt'));
    assert.ok(cert.verify(ca.publicKey), 'signed by the CA');
    assert.match(cert.subject, /CN=pgbackrest-client/);
    for (const host of [REPO_HOST, `${FN}-2.${FN}-hl.pyairtable.svc.cluster.local`])
      assert.ok(cert.checkHost(host), host);
    assert.match(pem('tls.key'), /PRIVATE KEY/);
    const existing = render(set('pitr.enabled=true', 'pitr.tls.existingSecret=pgbackrest-certs'));
    assert.equal(
      existing.some((o) => o.kind === 'Secret' && o.metadata.name === `${FN}-pgbackrest-tls`),
      false,
    );
    const vol = member(existing).volumes.find((v: any) => v.name === 'pgbackrest-tls');
    assert.equal(vol.secret.secretName, 'pgbackrest-certs');
  });

  it('schedules full and differential backups and the weekly drill, each run in the repository pod', () => {
    const objs = on();
    const cron = (n: string) => find(objs, 'CronJob', `${FN}-${n}`);
    const args = (n: string) => containersOf(cron(n).spec.jobTemplate.spec.template.spec)[0].args;
    assert.deepEqual(args('pitr-full'), ['scheduled', 'physical-backup', '--type', 'full']);
    assert.deepEqual(args('pitr-diff'), ['scheduled', 'physical-backup', '--type', 'diff']);
    assert.deepEqual(args('drill'), ['scheduled', 'drill']);
    assert.equal(cron('pitr-full').spec.schedule, '0 1 * * 0');
    assert.equal(cron('drill').spec.schedule, '0 4 * * 3');
    assert.equal(
      objs.some((o) => o.kind === 'CronJob' && o.metadata.name === `${FN}-pitr-incr`),
      false,
    );
    for (const n of ['pitr-full', 'pitr-diff', 'drill']) {
      assert.equal(cron(n).spec.concurrencyPolicy, 'Forbid');
      const env = envOf(containersOf(cron(n).spec.jobTemplate.spec.template.spec)[0]);
      assert.equal(env.PGOPS_PGBACKREST_REPO_POD, `${FN}-repo-0`);
    }
    const incr = render(set('pitr.enabled=true', 'pitr.schedules.incr=0 */6 * * *'));
    assert.ok(incr.some((o) => o.kind === 'CronJob' && o.metadata.name === `${FN}-pitr-incr`));
  });

  it('lets the CronJobs exec into the repository pod only, and nothing else of the API', () => {
    const objs = on();
    const role = find(objs, 'Role', `${FN}-pitr`);
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['pods'], resourceNames: [`${FN}-repo-0`], verbs: ['get'] },
      {
        apiGroups: [''],
        resources: ['pods/exec'],
        resourceNames: [`${FN}-repo-0`],
        verbs: ['create', 'get'],
      },
    ]);
    const binding = find(objs, 'RoleBinding', `${FN}-pitr`);
    assert.deepEqual(
      binding.subjects.map((s: any) => s.name),
      [`${FN}-pitr`],
    );
    for (const n of ['pitr-full', 'pitr-diff', 'drill'])
      assert.equal(
        find(objs, 'CronJob', `${FN}-${n}`).spec.jobTemplate.spec.template.spec.serviceAccountName,
        `${FN}-pitr`,
      );
  });

  it('admits the repository pod to the members’ pgBackRest port when a NetworkPolicy is on', () => {
    const np = find(render(set('pitr.enabled=true', 'networkPolicy.enabled=true')), 'NetworkPolicy', FN);
    const rule = np.spec.ingress.find((r: any) => r.ports.some((p: any) => p.port === 8432));
    assert.equal(rule.from[0].podSelector.matchLabels['app.kubernetes.io/component'], 'postgres-repo');
  });

  it('is on in staging and production, with repo2 on the cross-region store when asked', () => {
    for (const f of ['values-staging.yaml', 'values-prod.yaml'])
      assert.equal(envOf(container(member(render(['--values', f])), 'postgres')).PGOPS_PITR, 'true', f);
    const r2 = render(
      set(
        'pitr.enabled=true',
        'pitr.repo2=true',
        'crossRegion.enabled=true',
        'crossRegion.provider=s3',
        'crossRegion.bucket=dr',
        'crossRegion.region=eu-west-1',
        'crossRegion.credentialsSecret=s3-keys',
      ),
    );
    const env = container(member(r2), 'postgres').env;
    assert.ok(env.some((e: any) => e.name === 'PGOPS_PGBACKREST_REPO2' && e.value === 'true'));
    const key = env.find((e: any) => e.name === 'AWS_SECRET_ACCESS_KEY');
    assert.deepEqual(
      key.valueFrom.secretKeyRef,
      { name: 's3-keys', key: 'AWS_SECRET_ACCESS_KEY' },
      'by reference',
    );
  });
});
