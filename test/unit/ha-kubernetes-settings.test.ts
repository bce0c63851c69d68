/**
 * What a member on Kubernetes tells Patroni about where it lives: the labels Patroni finds its
 * members by, the label keys it writes (role, scope), the pod IP for the leader Endpoints; and how
 * the jobs' TLS setting reaches the driver.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nestConfig, parseAgentEnv, type AgentEnv } from '../../src/core/config/schema.js';
import { patroniConfig } from '../../src/core/ha/patroni-config.js';
import { toClientConfig } from '../../src/core/pg/conninfo.js';
import { memberInputs } from '../../src/runtime/instance/patroni-inputs.js';
import { tempDir } from '../support/tmp.js';

function env(extra: Record<string, string>): AgentEnv {
  const r = parseAgentEnv({
    PGDATA: `${tempDir()}/pgdata`,
    PGOPS_MAX_SLOT_WAL_KEEP_SIZE: '1GB',
    PGOPS_SUPERUSER_PASSWORD: 's',
    PGOPS_REPLICATION_PASSWORD: 'r',
    PGOPS_RESTAPI_PASSWORD: 'p',
    PGOPS_POD_IP: '10.1.2.3',
    PGOPS_RELEASE: 'pyairtable-stack',
    PGOPS_NAMESPACE: 'pyairtable',
    ...extra,
  });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
  return r.value;
}

const kubernetesSection = (e: AgentEnv) =>
  patroniConfig(
    memberInputs(
      nestConfig(e),
      { parameters: {}, extraHba: [] },
      { postBootstrap: 'x', noFailover: false, binDir: '/bin' },
    ).inputs,
  ).kubernetes as Record<string, unknown>;

describe("Patroni's Kubernetes settings", () => {
  it('passes the member labels, the role and scope label keys, the pod IP and the named port', () => {
    const k = kubernetesSection(
      env({
        PGOPS_K8S_LABELS: 'app.kubernetes.io/instance=pyairtable-stack,pyairtable-stack/member=true',
        PGOPS_K8S_ROLE_LABEL: 'pyairtable-stack/role',
        PGOPS_K8S_SCOPE_LABEL: 'pyairtable-stack/cluster',
      }),
    );
    assert.deepEqual(k, {
      namespace: 'pyairtable',
      labels: { 'app.kubernetes.io/instance': 'pyairtable-stack', 'pyairtable-stack/member': 'true' },
      role_label: 'pyairtable-stack/role',
      scope_label: 'pyairtable-stack/cluster',
      use_endpoints: true,
      pod_ip: '10.1.2.3',
      ports: [{ name: 'postgresql', port: 5432 }],
    });
  });

  it("keeps Patroni's own label keys when none are configured", () => {
    const k = kubernetesSection(env({}));
    assert.equal(k.role_label, 'role');
    assert.equal(k.scope_label, 'cluster-name');
  });

  it('refuses a role label that is not a label key, naming the setting', () => {
    const r = parseAgentEnv({ PGOPS_K8S_ROLE_LABEL: 'role label' });
    assert.equal(r.ok, false);
    assert.deepEqual(r.ok ? [] : r.issues.map((i) => i.key), ['PGOPS_K8S_ROLE_LABEL']);
  });

  it('refuses to start on Kubernetes without the pod IP the leader Endpoints must point at', () => {
    const e = env({});
    delete (e as Partial<AgentEnv>).PGOPS_POD_IP;
    assert.throws(() => kubernetesSection(e), /PGOPS_POD_IP is not set/);
  });
});

describe('TLS of job connections', () => {
  const target = { host: 'db', port: 5432, user: 'postgres', database: 'postgres' };

  it('encrypts without checking the certificate with sslmode=require, as libpq does', () => {
    assert.deepEqual(toClientConfig({ ...target, params: { sslmode: 'require' } }).ssl, {
      rejectUnauthorized: false,
    });
  });

  it('connects in plain text with disable, and leaves the driver default otherwise', () => {
    assert.equal(toClientConfig({ ...target, params: { sslmode: 'disable' } }).ssl, false);
    assert.equal('ssl' in toClientConfig({ ...target, params: { sslmode: 'prefer' } }), false);
    assert.equal('ssl' in toClientConfig(target), false);
  });
});
