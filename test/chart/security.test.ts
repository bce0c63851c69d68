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

  it('gives the snapshot job exactly the volumesnapshot and PVC verbs it needs', () => {
    const role = find(objs(), 'Role', 'pyairtable-stack-postgres-snapshot');
    assert.deepEqual(role.rules, [
      {
        apiGroups: ['snapshot.storage.k8s.io'],
        resources: ['volumesnapshots'],
        verbs: ['create', 'get', 'list', 'watch', 'patch', 'delete'],
      },
      { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get'] },
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
    assert.equal(objs().filter((o) => o.kind === 'Role').length, 1, 'only the snapshot job talks to the API');
  });

  it('mounts an API token only in the snapshot pods, each role with its own ServiceAccount', () => {
    const expected: Record<string, string> = {
      'StatefulSet/pyairtable-stack-postgres': 'pyairtable-stack-postgres',
      'StatefulSet/pyairtable-stack-postgres-replica': 'pyairtable-stack-postgres',
      'CronJob/pyairtable-stack-postgres-backup': 'pyairtable-stack-postgres-backup',
      // crossRegion is on in this profile: the restore may read an object-store URL with the sync identity.
      'Job/pyairtable-stack-postgres-restore-latest': 'pyairtable-stack-postgres-sync',
      'CronJob/pyairtable-stack-postgres-snapshot': 'pyairtable-stack-postgres-snapshot',
      'CronJob/pyairtable-stack-postgres-sync': 'pyairtable-stack-postgres-sync',
    };
    for (const pod of pods(objs())) {
      if (pod.owner === 'Pod/pyairtable-stack-postgres-test-connection') {
        assert.equal(pod.spec.automountServiceAccountToken, false);
        continue;
      }
      assert.equal(pod.spec.serviceAccountName, expected[pod.owner], pod.owner);
      assert.equal(
        pod.spec.automountServiceAccountToken,
        pod.owner === 'CronJob/pyairtable-stack-postgres-snapshot',
        pod.owner,
      );
    }
    for (const sa of objs().filter((o) => o.kind === 'ServiceAccount'))
      assert.equal(sa.automountServiceAccountToken, false, sa.metadata.name);
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
  const objs = () =>
    render([
      ...toggles.replication!,
      ...toggles.snapshots!,
      ...toggles.crossRegionGcs!,
      ...toggles.restore!,
      ...toggles.migration!,
    ]);

  it('routes read-write traffic to the primary only and read-only traffic to replicas only', () => {
    assert.deepEqual(selected(objs(), 'pyairtable-stack-postgres'), [
      'StatefulSet/pyairtable-stack-postgres',
    ]);
    assert.deepEqual(selected(objs(), 'pyairtable-stack-postgres-hl'), [
      'StatefulSet/pyairtable-stack-postgres',
    ]);
    assert.deepEqual(selected(objs(), 'pyairtable-stack-postgres-read'), [
      'StatefulSet/pyairtable-stack-postgres-replica',
    ]);
    assert.deepEqual(selected(objs(), 'pyairtable-stack-postgres-replica-hl'), [
      'StatefulSet/pyairtable-stack-postgres-replica',
    ]);
  });

  it('scrapes metrics from every PostgreSQL pod and no job', () => {
    assert.deepEqual(selected(objs(), 'pyairtable-stack-postgres-metrics'), [
      'StatefulSet/pyairtable-stack-postgres',
      'StatefulSet/pyairtable-stack-postgres-replica',
    ]);
  });

  it('publishes headless pod DNS before readiness, so peers can be found during startup', () => {
    for (const name of ['pyairtable-stack-postgres-hl', 'pyairtable-stack-postgres-replica-hl']) {
      const svc = find(objs(), 'Service', name);
      assert.equal(svc.spec.clusterIP, 'None');
      assert.equal(svc.spec.publishNotReadyAddresses, true);
    }
  });

  it('targets ports the selected containers expose', () => {
    for (const svc of objs().filter((o) => o.kind === 'Service')) {
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
  it('admits 5432 from pods of the release and 9187 from the metrics namespaces only', () => {
    const np = find(render(toggles.networkPolicy!), 'NetworkPolicy', 'pyairtable-stack-postgres');
    assert.deepEqual(np.spec.policyTypes, ['Ingress']);
    const [db, metrics] = np.spec.ingress;
    assert.deepEqual(db.ports, [{ port: 5432, protocol: 'TCP' }]);
    assert.deepEqual(db.from, [
      { podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'pyairtable-stack' } } },
    ]);
    assert.deepEqual(metrics.ports, [{ port: 9187, protocol: 'TCP' }]);
    assert.ok(metrics.from[0].namespaceSelector);
    assert.equal(np.spec.podSelector.matchLabels['pyairtable-stack/postgres-server'], 'true');
  });
});
