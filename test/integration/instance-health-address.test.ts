/**
 * The health endpoint answers /status with role, LSN and disk usage: in pods it listens on every
 * interface (the kubelet probes the pod IP); PGOPS_HEALTH_ADDRESS=127.0.0.1 keeps it on this machine
 * (what local mode sets; test/faults/local-recovery.test.ts checks a running local member).
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, describe, it } from 'node:test';
import { parseAgentEnv } from '../../src/core/config/schema.js';
import type { HealthSnapshot } from '../../src/core/instance/health.js';
import { startHealthServer } from '../../src/runtime/instance/health-server.js';
import { cleanupAll, onCleanup } from '../support/cleanup.js';
import { httpGetStatus, nonLoopbackAddress } from '../support/net.js';
import { freePort } from '../support/ports.js';

after(cleanupAll);

const snapshot = (): HealthSnapshot => ({
  phase: 'running',
  lastTickAt: Date.now(),
  patroniAlive: true,
  accepting: true,
  everAccepted: true,
  inRecovery: false,
});

async function serve(address: string | undefined): Promise<{ port: number; server: Server }> {
  const port = await freePort();
  const server = await startHealthServer(port, snapshot, 1024, address);
  onCleanup(`close health server ${port}`, () => new Promise<void>((r) => server.close(() => r())));
  return { port, server };
}

describe('health endpoint address', () => {
  it('listens on every interface by default and only on loopback with PGOPS_HEALTH_ADDRESS=127.0.0.1', async (t) => {
    const outside = nonLoopbackAddress();
    if (!outside) {
      t.skip('this machine has no non-loopback IPv4 address to connect to');
      return;
    }
    const env = parseAgentEnv({});
    assert.ok(env.ok);
    assert.equal(env.value.PGOPS_HEALTH_ADDRESS, '*');
    const everywhere = await serve(env.value.PGOPS_HEALTH_ADDRESS);
    assert.equal(await httpGetStatus(outside, everywhere.port), 200, 'the kubelet reaches the pod IP');

    const local = await serve('127.0.0.1');
    assert.equal(await httpGetStatus('127.0.0.1', local.port), 200);
    assert.equal(await httpGetStatus(outside, local.port), 'ECONNREFUSED');
  });

  it('refuses an address that is not one (exit 2 at start, like any bad setting)', () => {
    const r = parseAgentEnv({ PGOPS_HEALTH_ADDRESS: '0.0.0.0; rm -rf /' });
    assert.equal(r.ok, false);
  });
});
