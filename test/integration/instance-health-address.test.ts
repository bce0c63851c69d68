/**
 * The health endpoint answers /status with role, LSN and disk usage: in pods it listens on every
 * interface (the kubelet probes the pod IP); PGOPS_HEALTH_ADDRESS=127.0.0.1 keeps it on this machine.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createInstance } from '../support/agent.js';
import { cleanupAll } from '../support/cleanup.js';
import { httpGetStatus, nonLoopbackAddress } from '../support/net.js';

after(cleanupAll);

describe('health endpoint address', () => {
  it('listens on every interface by default and only on loopback with PGOPS_HEALTH_ADDRESS=127.0.0.1', async (t) => {
    const outside = nonLoopbackAddress();
    if (!outside) {
      t.skip('this machine has no non-loopback IPv4 address to connect to');
      return;
    }
    const m = await createInstance({ name: 'postgres-0' });
    m.start();
    await m.waitReady();
    assert.equal(await httpGetStatus(outside, m.healthPort), 200, 'the kubelet reaches the pod IP');
    await m.stop();

    m.start({ PGOPS_HEALTH_ADDRESS: '127.0.0.1' });
    await m.waitReady();
    assert.equal(await httpGetStatus('127.0.0.1', m.healthPort), 200);
    assert.equal(await httpGetStatus(outside, m.healthPort), 'ECONNREFUSED');
  });
});
