/**
 * How full each member's data volume is on Kubernetes (what `status` shows under storage), against
 * a stand-in API server that also answers the exec of `df` in the pods (no cluster can run here).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeCluster } from '../../src/kube/cluster.js';
import { cleanupAll } from '../support/cleanup.js';
import { type ExecRequest, sendJson, startStandInApi, serveMembersStatefulSet } from '../support/kube-api.js';
import { writeKubeconfig } from '../support/kubeconfig.js';

after(cleanupAll);

const GI = 2 ** 30;

function pod(name: string, running: boolean) {
  return {
    metadata: {
      name,
      labels: { 'app.kubernetes.io/instance': 'pyairtable-stack' },
      ownerReferences: [{ kind: 'StatefulSet', name: 'pyairtable-stack-postgres' }],
    },
    status: running
      ? {
          phase: 'Running',
          containerStatuses: [{ name: 'postgres', restartCount: 0, state: { running: {} } }],
        }
      : {
          phase: 'Pending',
          containerStatuses: [{ name: 'postgres', restartCount: 0, state: { waiting: {} } }],
        },
  };
}

describe('data volume usage of the members on Kubernetes (stand-in API server)', () => {
  let cluster: KubeCluster;
  const execs: ExecRequest[] = [];

  before(async () => {
    const api = await startStandInApi();
    serveMembersStatefulSet(api, { namespace: 'pyairtable', replicas: () => 3 });
    api.route('/api/v1/namespaces/pyairtable/pods', (_req, res) =>
      sendJson(res, {
        kind: 'PodList',
        metadata: {},
        items: [
          pod('pyairtable-stack-postgres-0', true),
          pod('pyairtable-stack-postgres-1', true),
          pod('pyairtable-stack-postgres-2', false),
        ],
      }),
    );
    api.route(/^\/api\/v1\/namespaces\/pyairtable\/persistentvolumeclaims\/(.+)$/, (req, res) =>
      sendJson(res, {
        metadata: { name: req.path.split('/').pop() },
        status: { phase: 'Bound', capacity: { storage: '100Gi' } },
      }),
    );
    api.onExec((r) => {
      execs.push(r);
      // Member 1's df fails: its volume is then shown by the PVC's capacity alone.
      if (r.pod.endsWith('-1'))
        return { stderr: 'df: cannot read table of mounted file systems', exitCode: 1 };
      return {
        stdout: `Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/sdb ${100 * GI} ${25 * GI} ${75 * GI} 25% /var/lib/postgresql/data\n`,
        exitCode: 0,
      };
    });
    process.env.KUBECONFIG = writeKubeconfig(api.url, { insecureSkipTlsVerify: true });
    delete process.env.KUBERNETES_SERVICE_HOST;
    cluster = await KubeCluster.connect({ release: 'pyairtable-stack' });
  });

  it('reads df in each running member and the PVC capacity of the others, one row per member in member order', async () => {
    const volumes = await cluster.volumes();
    assert.deepEqual(volumes, [
      {
        name: 'postgres-storage-pyairtable-stack-postgres-0',
        member: 'pyairtable-stack-postgres-0',
        capacityBytes: 100 * GI,
        usedBytes: 25 * GI,
        availableBytes: 75 * GI,
        usedPercent: 25,
      },
      {
        name: 'postgres-storage-pyairtable-stack-postgres-1',
        member: 'pyairtable-stack-postgres-1',
        capacityBytes: 100 * GI,
        usedBytes: null,
        availableBytes: null,
        usedPercent: null,
      },
      {
        name: 'postgres-storage-pyairtable-stack-postgres-2',
        member: 'pyairtable-stack-postgres-2',
        capacityBytes: 100 * GI,
        usedBytes: null,
        availableBytes: null,
        usedPercent: null,
      },
    ]);
    // df runs in the postgres container of running members only, on the data volume.
    assert.deepEqual(execs.map((e) => [e.pod, e.container, e.command.join(' ')]).sort(), [
      ['pyairtable-stack-postgres-0', 'postgres', 'df -P -B1 /var/lib/postgresql/data'],
      ['pyairtable-stack-postgres-1', 'postgres', 'df -P -B1 /var/lib/postgresql/data'],
    ]);
  });
});
