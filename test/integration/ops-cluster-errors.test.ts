/**
 * What postgres-ops says when it cannot reach what it operates: no kubeconfig, an API server that
 * does not answer, a release that is not installed (a minimal HTTP stand-in for the API server
 * answers the two list calls), no local state. Each is a clear message and the right exit code.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { sendJson, startStandInApi } from '../support/kube-api.js';
import { writeKubeconfig } from '../support/kubeconfig.js';
import { freePort } from '../support/ports.js';
import { tempDir } from '../support/tmp.js';
import { opsMain } from '../support/tools.js';

after(cleanupAll);

function ops(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string; stateDir: string }> {
  // An empty state folder: these runs must never pick up a local mode by accident.
  const stateDir = join(tempDir(), 'state');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [opsMain, ...args, '--state-dir', stateDir],
      { env: { ...process.env, KUBERNETES_SERVICE_HOST: '', ...env }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr, stateDir }),
    );
  });
}

describe('postgres-ops without a reachable cluster', () => {
  it('says no cluster is configured when the kubeconfig does not exist, and points at the local mode', async () => {
    const r = await ops(['status', '-o', 'json'], { KUBECONFIG: join(tempDir(), 'missing') });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: no Kubernetes cluster configured/);
    assert.match(r.stderr, /hint: .*postgres-ops local up/);
    assert.equal(JSON.parse(r.stdout).error.code, 'E_NO_CLUSTER');
  });

  it('says the kubeconfig is empty when it is', async () => {
    const file = join(tempDir(), 'empty');
    writeFileSync(file, '');
    const r = await ops(['list-backups'], { KUBECONFIG: file });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no Kubernetes cluster configured \(.*empty or not a kubeconfig\)/);
  });

  it('names the server that refuses connections', async () => {
    const port = await freePort();
    const r = await ops(['status'], { KUBECONFIG: writeKubeconfig(`https://127.0.0.1:${port}`) });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `no Kubernetes API server answers at https://127\\.0\\.0\\.1:${port} \\(connect ECONNREFUSED`,
      ),
    );
    assert.match(r.stderr, /hint: Check the cluster and your context/);
  });

  it('says a --context that the kubeconfig does not have is unknown', async () => {
    const port = await freePort();
    const r = await ops(['status', '--context', 'prod-eu'], {
      KUBECONFIG: writeKubeconfig(`https://127.0.0.1:${port}`),
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /context "prod-eu" not found in the kubeconfig/);
  });

  describe('with an API server that has another release', () => {
    let url = '';
    const seen: string[] = [];

    it('starts the stand-in API server', async () => {
      const api = await startStandInApi();
      api.route('/apis/apps/v1/namespaces/pyairtable/statefulsets', (req, res) => {
        seen.push(req.url ?? '');
        sendJson(res, { kind: 'StatefulSetList', apiVersion: 'apps/v1', metadata: {}, items: [] });
      });
      api.route('/apis/apps/v1/statefulsets', (req, res) => {
        seen.push(req.url ?? '');
        sendJson(res, {
          kind: 'StatefulSetList',
          apiVersion: 'apps/v1',
          metadata: {},
          items: [
            {
              metadata: {
                name: 'staging-stack-postgres',
                namespace: 'pyairtable-staging',
                labels: { 'app.kubernetes.io/instance': 'staging-stack' },
              },
            },
          ],
        });
      });
      url = api.url;
    });

    it('says the release is not installed (exit 2) and lists the releases that are', async () => {
      const r = await ops(['status', '-o', 'json'], {
        KUBECONFIG: writeKubeconfig(url, { insecureSkipTlsVerify: true }),
      });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /release "pyairtable-stack" has no PostgreSQL in namespace "pyairtable"/);
      assert.match(
        r.stderr,
        /hint: Releases found: staging-stack \(namespace pyairtable-staging\)\. Pass --release NAME and -n NAMESPACE\./,
      );
      const err = JSON.parse(r.stdout).error;
      assert.equal(err.code, 'E_NO_RELEASE');
      assert.deepEqual(err.meta.found, ['staging-stack (namespace pyairtable-staging)']);
      assert.ok(
        seen.some((u) => u.includes('labelSelector=app.kubernetes.io%2Finstance%3Dpyairtable-stack')),
      );
    });

    it('refuses a promote against the missing release before asking anything (exit 2)', async () => {
      const r = await ops(['promote', 'pyairtable-stack-postgres-replica-0', '--yes'], {
        KUBECONFIG: writeKubeconfig(url, { insecureSkipTlsVerify: true }),
      });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /release "pyairtable-stack" has no PostgreSQL/);
    });
  });
});

describe('postgres-ops --local without local state', () => {
  it('says there is no local PostgreSQL (exit 2) and how to start one', async () => {
    const r = await ops(['status', '--local', '-o', 'json'], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no local PostgreSQL set up in .*state/);
    assert.match(r.stderr, /hint: Start one: postgres-ops local up/);
    assert.equal(JSON.parse(r.stdout).error.code, 'E_NO_LOCAL_STATE');
  });

  it('rejects a bad --replicas value (exit 2) without creating anything', async () => {
    const r = await ops(['local', 'up', '--replicas', 'two'], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--replicas must be a whole number from 0 to 5, not "two"/);
    assert.equal(existsSync(r.stateDir), false);
  });
});

describe('postgres-ops local up in a folder PostgreSQL cannot reach', () => {
  it('says which directory the postgres OS user cannot enter (exit 2) and creates nothing', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('only root hands the instances to the postgres OS user');
    const parent = tempDir();
    chmodSync(parent, 0o700);
    const stateDir = join(parent, 'checkout', '.postgres-ops');
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [opsMain, 'local', 'up', '--state-dir', stateDir], (err, _o, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr }),
      );
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`the postgres OS user cannot enter ${parent} \\(mode 700\\)`));
    assert.match(
      r.stderr,
      /hint: Use a state folder it can reach, e\.g\. --state-dir \/var\/tmp\/postgres-ops/,
    );
    assert.equal(existsSync(join(parent, 'checkout')), false);
  });
});
