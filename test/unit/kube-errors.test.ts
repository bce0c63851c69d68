import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCodes } from '../../src/core/error-codes.js';
import { isKubeNotFound, kubeFailure, kubeFailureKind, kubeStatus } from '../../src/core/kube-errors.js';
import { classifyKubeError } from '../../src/core/snapshot/errors.js';
import { KubeApiFailure } from '../../src/core/snapshot/model.js';
import { kubeError } from '../../src/kube/errors.js';

/** What the Kubernetes client throws for an HTTP error (an ApiException carries the status as `code`). */
const apiException = (code: number) => Object.assign(new Error(`HTTP-Code: ${code}`), { code });

describe('Kubernetes API failures', () => {
  it('reads the status from the client exception, from KubeApiFailure and from a plain object', () => {
    assert.equal(kubeStatus(apiException(403)), 403);
    assert.equal(kubeStatus(new KubeApiFailure(404, 'NotFound', 'x')), 404);
    assert.equal(kubeStatus({ status: 409 }), 409);
    assert.equal(kubeStatus(new Error('socket hang up')), undefined);
    assert.equal(kubeStatus(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), undefined);
  });

  it('names what each status means', () => {
    assert.equal(kubeFailureKind(401), 'unauthenticated');
    assert.equal(kubeFailureKind(403), 'forbidden');
    assert.equal(kubeFailureKind(404), 'not-found');
    assert.equal(kubeFailureKind(409), 'conflict');
    assert.equal(kubeFailureKind(422), 'invalid');
    assert.equal(kubeFailureKind(429), 'transient');
    assert.equal(kubeFailureKind(500), 'transient');
    assert.equal(kubeFailureKind(503), 'transient');
    assert.equal(kubeFailureKind(undefined), 'transient');
    assert.equal(kubeFailureKind(400), 'other');
    assert.ok(isKubeNotFound(apiException(404)));
    assert.ok(!isKubeNotFound(apiException(403)));
  });

  it('makes 401 E_KUBE_UNAUTHORIZED and 403 E_KUBE_FORBIDDEN, both exit 1', () => {
    for (const missing of ['named', 'needed'] as const) {
      const unauthenticated = kubeFailure(401, 'm', { missing });
      assert.equal(unauthenticated.code, 'E_KUBE_UNAUTHORIZED');
      assert.equal(unauthenticated.exitCode, 1);
      const forbidden = kubeFailure(403, 'm', { missing });
      assert.equal(forbidden.code, 'E_KUBE_FORBIDDEN');
      assert.equal(forbidden.exitCode, 1);
    }
  });

  it('makes a missing object the person named bad input (exit 2), and one the operation needed a failure (exit 1)', () => {
    const named = kubeFailure(404, 'reading StatefulSet x: not found', { missing: 'named', hint: 'h' });
    assert.equal(named.code, 'E_NOT_FOUND');
    assert.equal(named.exitCode, 2);
    assert.equal(named.hint, 'h');
    const needed = kubeFailure(404, 'm', { missing: 'needed' });
    assert.equal(needed.code, 'E_KUBE_NOT_FOUND');
    assert.equal(needed.exitCode, 1);
  });

  it('makes any other status E_KUBE, exit 1', () => {
    for (const status of [400, 409, 422, 429, 500, undefined]) {
      const e = kubeFailure(status, 'm', { missing: 'named', meta: { status: status ?? null } });
      assert.equal(e.code, 'E_KUBE');
      assert.equal(e.exitCode, 1);
    }
  });

  it('gives every code the exit status the error-code registry lists', () => {
    for (const status of [401, 403, 404, 500])
      for (const missing of ['named', 'needed'] as const) {
        const e = kubeFailure(status, 'm', { missing });
        assert.equal(e.exitCode, errorCodes[e.code as keyof typeof errorCodes].exit, e.code);
      }
  });

  it("the operator's adapter and the snapshot Job agree on 401 and 403, and each says why 404 exits as it does", () => {
    const cli401 = kubeError('reading StatefulSet x', apiException(401));
    const job401 = classifyKubeError(new KubeApiFailure(401, 'Unauthorized', 'x'), 'creating s', {
      namespace: 'n',
    });
    assert.equal(cli401.code, 'E_KUBE_UNAUTHORIZED');
    assert.equal(job401.code, 'E_KUBE_UNAUTHORIZED');
    assert.equal(cli401.exitCode, 1);
    assert.equal(job401.exitCode, 1);
    assert.match(cli401.message, /refused \(not authenticated\)/);
    const cli403 = kubeError('reading StatefulSet x', apiException(403));
    assert.equal(cli403.code, 'E_KUBE_FORBIDDEN');
    assert.equal(cli403.exitCode, 1);
    // The CLI looks up what the person named (-n, --release): bad input.
    const cli404 = kubeError('reading StatefulSet x', apiException(404));
    assert.equal(cli404.code, 'E_NOT_FOUND');
    assert.equal(cli404.exitCode, 2);
    assert.equal(cli404.message, 'reading StatefulSet x: not found');
    assert.match(cli404.hint ?? '', /--namespace and --release/);
    // The snapshot Job needs the CRDs and the PVC it was configured with: the environment is wrong.
    const job404 = classifyKubeError(new KubeApiFailure(404, 'NotFound', 'x'), 'creating s', {
      namespace: 'n',
    });
    assert.equal(job404.code, 'E_KUBE_NOT_FOUND');
    assert.equal(job404.exitCode, 1);
  });
});
