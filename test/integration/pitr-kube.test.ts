/**
 * Point-in-time recovery on Kubernetes, against a stand-in API server that speaks the exec
 * WebSocket: physical backups, their listing and drills run in the repository pod (pgBackRest 2.45
 * backs up only where the repository is), and a release without one is told how to turn it on.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Output } from '../../src/core/output.js';
import { KubeCluster } from '../../src/kube/cluster.js';
import { cleanupAll } from '../support/cleanup.js';
import {
  type ExecRequest,
  sendJson,
  sendStatus,
  serveMembersStatefulSet,
  startStandInApi,
} from '../support/kube-api.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are untyped JSON */

const NS = 'pyairtable';
delete process.env.KUBERNETES_SERVICE_HOST;
const out: Output = { line: () => undefined, result: () => undefined, raw: () => undefined };

async function standIn(withRepoPod: boolean) {
  const api = await startStandInApi(NS);
  const execs: ExecRequest[] = [];
  serveMembersStatefulSet(api, { namespace: NS });
  api.route(/^\/api\/v1\/namespaces\/[^/]+\/pods\/pyairtable-stack-postgres-repo-0$/, (_req, res) =>
    withRepoPod
      ? sendJson(res, {
          kind: 'Pod',
          metadata: { name: 'pyairtable-stack-postgres-repo-0' },
          status: { phase: 'Running' },
        })
      : sendStatus(res, 404, 'NotFound', 'pods "pyairtable-stack-postgres-repo-0" not found'),
  );
  api.onExec((r) => {
    execs.push(r);
    if (r.command[1] === 'physical-backup')
      return {
        stdout: JSON.stringify({
          type: 'full',
          outcomes: [
            {
              repo: 'repo1',
              status: 'success',
              // As postgres-agent physical-backup prints it (src/core/pitr/results.ts).
              backup: {
                label: '20260101-010000F',
                type: 'full',
                repo: 'repo1',
                startedAt: '2026-01-01T01:00:00.000Z',
                stoppedAt: '2026-01-01T01:00:05.000Z',
                startLsn: '0/2000028',
                stopLsn: '0/2000100',
                timeline: 1,
                sizeBytes: 31457280,
                repoSizeBytes: 4194304,
                prior: null,
                name: 'before-migration',
                error: false,
                walStart: '000000010000000000000002',
                walStop: '000000010000000000000002',
              },
              error: null,
              durationSeconds: 3,
            },
          ],
          recoverability: { repo1: '2026-01-01T01:00:06.000Z' },
          expired: [],
        }),
        stderr: 'physical full backup to repo1 started\n',
        exitCode: 0,
      };
    if (r.command[1] === 'drill')
      return {
        stderr: 'error: the recovery drill failed: index i_x: corrupt\nhint: investigate\n',
        exitCode: 1,
      };
    return {
      stdout: JSON.stringify({
        stanza: 'db',
        status: { code: 0, message: 'ok' },
        repos: [],
        backups: [],
        earliest: {},
        windowStart: null,
      }),
      exitCode: 0,
    };
  });
  const cluster = await KubeCluster.connect({
    release: 'pyairtable-stack',
    kubeconfig: api.kubeconfig,
    pollMs: 20,
  });
  return { api, cluster, execs };
}

describe('point-in-time recovery on Kubernetes', () => {
  it('takes a physical backup by running the agent in the repository pod', async () => {
    const s = await standIn(true);
    const r = await s.cluster.physicalBackup({ type: 'full', name: 'before-migration' }, out);
    assert.equal(r.outcomes[0]!.backup?.label, '20260101-010000F');
    assert.deepEqual(
      s.execs.map((e) => [e.pod, e.container, e.command]),
      [
        [
          'pyairtable-stack-postgres-repo-0',
          'repo',
          ['postgres-agent', 'physical-backup', '--type', 'full', '--name', 'before-migration', '-o', 'json'],
        ],
      ],
    );
  });

  it("reports a failed drill with the agent's own message and exit code", async () => {
    const s = await standIn(true);
    await assert.rejects(
      s.cluster.drill(out),
      (e: any) => e.exitCode === 1 && /index i_x: corrupt/.test(e.message) && e.hint === 'investigate',
    );
  });

  it('tells a release without a repository pod how to turn point-in-time recovery on, and lists no physical backups', async () => {
    const s = await standIn(false);
    await assert.rejects(
      s.cluster.physicalBackup({ type: 'diff' }, out),
      (e: any) => e.exitCode === 2 && /pitr\.enabled=true/.test(e.hint),
    );
    assert.equal(await s.cluster.physicalInfo(), null);
    assert.deepEqual(s.execs, []);
  });
});
