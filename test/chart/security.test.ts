/**
 * Pod Security "restricted" on every pod, least-privilege RBAC, and Services that select exactly
 * the pods they should.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import {
  containersOf,
  find,
  pods,
  profiles,
  render,
  toggles,
  type K8sObject,
  type PodView,
} from './render.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped JSON */

const allowedVolumeTypes = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/**
 * The Pod Security Standards "baseline" and "restricted" checks (kubernetes.io/docs/concepts/security/pod-security-standards),
 * plus our own rule that root filesystems are read-only.
 */
export function restrictedViolations(pod: PodView): string[] {
  const s = pod.spec;
  const out: string[] = [];
  const psc = s.securityContext ?? {};
  if (s.hostNetwork || s.hostPID || s.hostIPC) out.push('host namespaces');
  for (const v of s.volumes ?? []) {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (!type || !allowedVolumeTypes.has(type)) out.push(`volume ${v.name} of type ${type}`);
  }
  if (psc.sysctls?.length) out.push('sysctls');
  if (psc.runAsUser === 0) out.push('pod runAsUser 0');
  for (const c of containersOf(s)) {
    const sc = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if (sc.privileged) out.push(`${where}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${where}: allowPrivilegeEscalation must be false`);
    const runAsNonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
    if (runAsNonRoot !== true) out.push(`${where}: runAsNonRoot must be true`);
    if ((sc.runAsUser ?? psc.runAsUser) === 0) out.push(`${where}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
      out.push(`${where}: seccompProfile RuntimeDefault required`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) out.push(`${where}: capabilities must drop ALL`);
    for (const cap of sc.capabilities?.add ?? [])
      if (cap !== 'NET_BIND_SERVICE') out.push(`${where}: adds ${cap}`);
    if (sc.procMount && sc.procMount !== 'Default') out.push(`${where}: procMount`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${where}: hostPort ${p.hostPort}`);
    if (sc.readOnlyRootFilesystem !== true) out.push(`${where}: readOnlyRootFilesystem must be true`);
  }
  return out;
}

describe('Pod Security "restricted"', () => {
  it('flags a privileged root pod, so the checker itself can fail', () => {
    const bad: PodView = {
      owner: 'Pod/bad',
      labels: {},
      spec: {
        hostNetwork: true,
        volumes: [{ name: 'h', hostPath: { path: '/' } }],
        containers: [{ name: 'c', securityContext: { privileged: true, runAsUser: 0 } }],
      },
    };
    const v = restrictedViolations(bad);
    for (const expected of [
      'host namespaces',
      'volume h of type hostPath',
      'container c: privileged',
      'container c: runAsNonRoot must be true',
    ]) {
      assert.ok(v.includes(expected), `missing "${expected}" in ${JSON.stringify(v)}`);
    }
  });

  for (const profile of profiles) {
    it(`holds for every pod: ${profile.name}`, () => {
      const problems = pods(render(profile.args)).flatMap((p) =>
        restrictedViolations(p).map((v) => `${p.owner}: ${v}`),
      );
      assert.deepEqual(problems, []);
    });
  }

  it('runs every pod as uid 999 with fsGroup 999, the official postgres image user', () => {
    for (const pod of pods(
      render([
        ...toggles.replication!,
        ...toggles.snapshots!,
        ...toggles.crossRegionGcs!,
        ...toggles.restore!,
      ]),
    )) {
      assert.equal(pod.spec.securityContext.runAsUser, 999, pod.owner);
      assert.equal(pod.spec.securityContext.fsGroup, 999, pod.owner);
    }
  });
});

describe('service accounts and RBAC', () => {
  const objs = () =>
    render([...toggles.replication!, ...toggles.snapshots!, ...toggles.crossRegionGcs!, ...toggles.restore!]);

  it('gives the members exactly the calls Patroni 3.0.2 makes with use_endpoints, each object by name where Kubernetes allows it', () => {
    const role = find(objs(), 'Role', 'pyairtable-stack-postgres');
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['endpoints'], verbs: ['list', 'watch', 'create'] },
      {
        apiGroups: [''],
        resources: ['endpoints'],
        resourceNames: [
          'pyairtable-stack-postgres',
          'pyairtable-stack-postgres-config',
          'pyairtable-stack-postgres-failover',
          'pyairtable-stack-postgres-sync',
        ],
        verbs: ['get', 'patch'],
      },
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
      {
        apiGroups: [''],
        resources: ['pods'],
        resourceNames: [
          'pyairtable-stack-postgres-0',
          'pyairtable-stack-postgres-1',
          'pyairtable-stack-postgres-2',
        ],
        verbs: ['patch'],
      },
    ]);
    // Never: services (the chart creates <scope>-config), configmaps (with PITR off), secrets, deletes.
    const text = JSON.stringify(role.rules);
    for (const word of ['services', 'configmaps', 'secrets', 'delete', 'update', '*'])
      assert.ok(!text.includes(`"${word}"`), `members may ${word}`);
    const rb = find(objs(), 'RoleBinding', 'pyairtable-stack-postgres');
    assert.deepEqual(rb.subjects, [
      { kind: 'ServiceAccount', name: 'pyairtable-stack-postgres', namespace: 'pyairtable' },
    ]);
  });

  it('lets each member patch its own pod as the member count changes', () => {
    const names = (objs: K8sObject[]) =>
      find(objs, 'Role', 'pyairtable-stack-postgres').rules.find(
        (r: any) => r.resources[0] === 'pods' && r.resourceNames,
      ).resourceNames;
    assert.deepEqual(names(render([])), ['pyairtable-stack-postgres-0']);
    assert.equal(
      names(
        render([
          '--set',
          'databases.postgres.replication.enabled=true',
          '--set',
          'databases.postgres.replication.replicas=5',
        ]),
      ).length,
      6,
    );
  });

  it('gives the snapshot job exactly the volumesnapshot verbs it needs and a read of the leader record', () => {
    const role = find(objs(), 'Role', 'pyairtable-stack-postgres-snapshot');
    assert.deepEqual(role.rules, [
      {
        apiGroups: ['snapshot.storage.k8s.io'],
        resources: ['volumesnapshots'],
        verbs: ['create', 'get', 'list', 'watch', 'patch', 'delete'],
      },
      {
        apiGroups: [''],
        resources: ['endpoints'],
        resourceNames: ['pyairtable-stack-postgres'],
        verbs: ['get'],
      },
    ]);
    const rb = find(objs(), 'RoleBinding', 'pyairtable-stack-postgres-snapshot');
    assert.deepEqual(rb.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'pyairtable-stack-postgres-snapshot',
    });
    assert.deepEqual(rb.subjects, [
      { kind: 'ServiceAccount', name: 'pyairtable-stack-postgres-snapshot', namespace: 'pyairtable' },
    ]);
    assert.equal(objs().filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding').length, 0);
    assert.deepEqual(
      objs()
        .filter((o) => o.kind === 'Role')
        .map((o) => o.metadata.name)
        .sort(),
      ['pyairtable-stack-postgres', 'pyairtable-stack-postgres-snapshot'],
      'only the members and the snapshot job talk to the API',
    );
  });

  it('mounts an API token only in the members and the snapshot pods, each role with its own ServiceAccount', () => {
    const expected: Record<string, string> = {
      'StatefulSet/pyairtable-stack-postgres': 'pyairtable-stack-postgres',
      'CronJob/pyairtable-stack-postgres-backup': 'pyairtable-stack-postgres-backup',
      // crossRegion is on in this profile: the restore may read an object-store URL with the sync identity.
      'Job/pyairtable-stack-postgres-restore-latest': 'pyairtable-stack-postgres-sync',
      'CronJob/pyairtable-stack-postgres-snapshot': 'pyairtable-stack-postgres-snapshot',
      'CronJob/pyairtable-stack-postgres-sync': 'pyairtable-stack-postgres-sync',
    };
    const withToken = ['StatefulSet/pyairtable-stack-postgres', 'CronJob/pyairtable-stack-postgres-snapshot'];
    for (const pod of pods(objs())) {
      if (pod.owner === 'Pod/pyairtable-stack-postgres-test-connection') {
        assert.equal(pod.spec.automountServiceAccountToken, false);
        continue;
      }
      assert.equal(pod.spec.serviceAccountName, expected[pod.owner], pod.owner);
      assert.equal(pod.spec.automountServiceAccountToken, withToken.includes(pod.owner), pod.owner);
    }
    for (const sa of objs().filter((o) => o.kind === 'ServiceAccount'))
      assert.equal(sa.automountServiceAccountToken, false, sa.metadata.name);
  });

  it('gives the point-in-time restore Job a token of its own ServiceAccount, and no other new API identity', () => {
    const objs = render([...toggles.replication!, ...toggles.pitrRestoreTime!]);
    const job = pods(objs).find((p) => p.owner === 'Job/pyairtable-stack-postgres-restore-pitr')!;
    assert.equal(job.spec.serviceAccountName, 'pyairtable-stack-postgres-restore-pitr');
    assert.equal(job.spec.automountServiceAccountToken, true);
    assert.equal(
      job.spec.volumes.find((v: any) => v.secret),
      undefined,
      'no password',
    );
    assert.deepEqual(
      pods(objs)
        .filter((p) => p.spec.automountServiceAccountToken)
        .map((p) => `${p.owner} as ${p.spec.serviceAccountName}`)
        .sort(),
      [
        'CronJob/pyairtable-stack-postgres-drill as pyairtable-stack-postgres-pitr',
        'CronJob/pyairtable-stack-postgres-pitr-diff as pyairtable-stack-postgres-pitr',
        'CronJob/pyairtable-stack-postgres-pitr-full as pyairtable-stack-postgres-pitr',
        'Job/pyairtable-stack-postgres-restore-pitr as pyairtable-stack-postgres-restore-pitr',
        'StatefulSet/pyairtable-stack-postgres as pyairtable-stack-postgres',
      ],
    );
    assert.deepEqual(
      objs
        .filter((o) => o.kind === 'Role')
        .map((o) => o.metadata.name)
        .sort(),
      [
        'pyairtable-stack-postgres',
        'pyairtable-stack-postgres-pitr',
        'pyairtable-stack-postgres-restore-pitr',
      ],
    );
    for (const sa of objs.filter((o) => o.kind === 'ServiceAccount'))
      assert.equal(sa.automountServiceAccountToken, false, sa.metadata.name);
  });

  it('gives each pod only the passwords it uses', () => {
    const files = (owner: string) =>
      pods(objs())
        .find((p) => p.owner === owner)!
        .spec.volumes.find((v: any) => v.name === 'secrets')
        .secret.items.map((i: any) => i.path)
        .sort();
    assert.deepEqual(files('StatefulSet/pyairtable-stack-postgres'), [
      'monitor-password',
      'password',
      'replication-password',
      'restapi-password',
      'superuser-password',
    ]);
    for (const job of [
      'CronJob/pyairtable-stack-postgres-backup',
      'CronJob/pyairtable-stack-postgres-snapshot',
      'CronJob/pyairtable-stack-postgres-sync',
      'Job/pyairtable-stack-postgres-restore-latest',
    ])
      assert.deepEqual(files(job), ['superuser-password'], job);
    assert.deepEqual(files('Pod/pyairtable-stack-postgres-test-connection'), ['password']);
  });
});

describe('Service selectors', () => {
  function selected(objs: K8sObject[], svcName: string): string[] {
    const svc = find(objs, 'Service', svcName);
    const sel: Record<string, string> = svc.spec.selector;
    return pods(objs)
      .filter((p) => Object.entries(sel).every(([k, v]) => p.labels[k] === v))
      .map((p) => p.owner)
      .sort();
  }
  /** The labels a member pod has at run time: its template's, plus the role Patroni writes. */
  function memberAt(objs: K8sObject[], role: 'master' | 'replica' | undefined): Record<string, string> {
    const sts = find(objs, 'StatefulSet', 'pyairtable-stack-postgres');
    return { ...sts.spec.template.metadata.labels, ...(role ? { 'pyairtable-stack/role': role } : {}) };
  }
  const matches = (sel: Record<string, string>, labels: Record<string, string>) =>
    Object.entries(sel).every(([k, v]) => labels[k] === v);
  const objs = () =>
    render([
      ...toggles.replication!,
      ...toggles.snapshots!,
      ...toggles.crossRegionGcs!,
      ...toggles.restore!,
      ...toggles.migration!,
    ]);

  it('routes read-write traffic by the leader record only, and read-only traffic to running replicas only', () => {
    assert.equal(find(objs(), 'Service', 'pyairtable-stack-postgres').spec.selector, undefined);
    const read = find(objs(), 'Service', 'pyairtable-stack-postgres-read').spec.selector;
    assert.equal(matches(read, memberAt(objs(), 'replica')), true);
    assert.equal(matches(read, memberAt(objs(), 'master')), false);
    assert.equal(matches(read, memberAt(objs(), undefined)), false, 'a member whose PostgreSQL is down');
    assert.deepEqual(selected(objs(), 'pyairtable-stack-postgres-hl'), [
      'StatefulSet/pyairtable-stack-postgres',
    ]);
  });

  it('scrapes metrics from every member and no job', () => {
    assert.deepEqual(selected(objs(), 'pyairtable-stack-postgres-metrics'), [
      'StatefulSet/pyairtable-stack-postgres',
    ]);
  });

  it('publishes headless pod DNS before readiness, so members can be found during startup', () => {
    const svc = find(objs(), 'Service', 'pyairtable-stack-postgres-hl');
    assert.equal(svc.spec.clusterIP, 'None');
    assert.equal(svc.spec.publishNotReadyAddresses, true);
  });

  it('targets ports the selected containers expose', () => {
    for (const svc of objs().filter((o) => o.kind === 'Service' && o.spec.selector)) {
      const sel: Record<string, string> = svc.spec.selector;
      for (const pod of pods(objs()).filter((p) =>
        Object.entries(sel).every(([k, v]) => p.labels[k] === v),
      )) {
        const names = containersOf(pod.spec).flatMap((c: any) => (c.ports ?? []).map((p: any) => p.name));
        for (const port of svc.spec.ports)
          assert.ok(
            names.includes(port.targetPort),
            `${svc.metadata.name} -> ${pod.owner}:${port.targetPort}`,
          );
      }
    }
  });
});

describe('NetworkPolicy', () => {
  it('admits 5432 from pods of the release, 8008 from the other members and 9187 from the metrics namespaces only', () => {
    const np = find(render(toggles.networkPolicy!), 'NetworkPolicy', 'pyairtable-stack-postgres');
    assert.deepEqual(np.spec.policyTypes, ['Ingress']);
    const [db, patroni, metrics] = np.spec.ingress;
    assert.deepEqual(db.ports, [{ port: 5432, protocol: 'TCP' }]);
    assert.deepEqual(db.from, [
      { podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'pyairtable-stack' } } },
    ]);
    assert.deepEqual(patroni.ports, [{ port: 8008, protocol: 'TCP' }]);
    assert.deepEqual(patroni.from, [{ podSelector: { matchLabels: np.spec.podSelector.matchLabels } }]);
    assert.deepEqual(metrics.ports, [{ port: 9187, protocol: 'TCP' }]);
    assert.ok(metrics.from[0].namespaceSelector);
    const sts = find(render(toggles.networkPolicy!), 'StatefulSet', 'pyairtable-stack-postgres');
    assert.deepEqual(np.spec.podSelector.matchLabels, sts.spec.selector.matchLabels);
  });
});
