import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  describePeer,
  planEmptyPrimary,
  planStart,
  type PeerFacts,
  type StartFacts,
} from '../../src/core/instance/decide.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

const SYSID = '7300000000000000001';
const REPLICA_0 = 'pyairtable-stack-postgres-replica-0.pyairtable-stack-postgres-replica-headless';
const REPLICA_1 = 'pyairtable-stack-postgres-replica-1.pyairtable-stack-postgres-replica-headless';

function member(host: string, inRecovery: boolean, timeline = 1, port = 5432): PeerFacts {
  return { host, port, inRecovery, timeline, systemIdentifier: SYSID };
}
function emptyPrimary(peers: PeerFacts[]): StartFacts {
  return { role: 'primary', dataDir: 'empty', peers };
}

describe('an empty data directory with PGOPS_ROLE=primary', () => {
  it('bootstraps a new cluster when no member answers (a fresh install)', () => {
    assert.deepEqual(planStart(emptyPrimary([])), { action: 'bootstrap' });
  });

  it('waits instead of running initdb when a standby with data answers, naming it and how to promote it', () => {
    const plan = planStart(emptyPrimary([member(REPLICA_0, true, 1)]));
    assert.equal(plan.action, 'wait');
    if (plan.action !== 'wait') return;
    assert.match(plan.reason, /the data directory is empty but a member runs PostgreSQL with data/);
    assert.ok(plan.reason.includes(`${REPLICA_0}:5432 (standby, timeline 1, system identifier ${SYSID})`));
    assert.match(plan.reason, /not creating a new, empty cluster/);
    assert.ok(plan.hint?.includes('postgres-ops promote pyairtable-stack-postgres-replica-0'), plan.hint);
    assert.match(plan.hint ?? '', /PGOPS_ROLE=replica/);
    assert.match(plan.hint ?? '', /restore a backup or volume snapshot into this volume/);
    assert.match(plan.hint ?? '', /Only if their data is really to be abandoned, stop them/);
  });

  it('waits when a primary answers (a replica was already promoted) and says to clone it as a replica', () => {
    const plan = planStart(
      emptyPrimary([member(REPLICA_1, true, 2), member(REPLICA_0, false, 2), member('old', true, 1)]),
    );
    assert.equal(plan.action, 'wait');
    if (plan.action !== 'wait') return;
    // The primary is listed first, then standbys newest timeline first.
    assert.ok(
      plan.reason.indexOf(`${REPLICA_0}:5432 (primary, timeline 2`) <
        plan.reason.indexOf(`${REPLICA_1}:5432 (standby, timeline 2`),
      plan.reason,
    );
    assert.ok(
      plan.reason.indexOf(`${REPLICA_1}:5432 (standby`) <
        plan.reason.indexOf('old:5432 (standby, timeline 1'),
    );
    assert.match(plan.reason, /members run PostgreSQL with data/);
    assert.ok(
      plan.hint?.includes(`PGOPS_ROLE=replica and PGOPS_PRIMARY_HOST=${REPLICA_0} PGOPS_PRIMARY_PORT=5432`),
      plan.hint,
    );
    assert.doesNotMatch(plan.hint ?? '', /postgres-ops promote/);
  });

  it('waits whatever system identifier the answering member has: an empty volume never decides whose data is stale', () => {
    const stranger = { ...member('other', true), systemIdentifier: '7300000000000000999' };
    assert.equal(planEmptyPrimary([stranger]).action, 'wait');
  });

  it('names a member found by IP address by its address in the promote hint, not as a pod name', () => {
    const plan = planEmptyPrimary([member('127.0.0.1', true, 1, 6543)]);
    assert.equal(plan.action, 'wait');
    if (plan.action !== 'wait') return;
    assert.ok(plan.hint?.includes('postgres-ops promote <the replica at 127.0.0.1:6543>'), plan.hint);
  });

  it('still clones, never bootstraps, when the role is replica', () => {
    assert.deepEqual(planStart({ role: 'replica', dataDir: 'empty', peers: [member(REPLICA_0, false)] }), {
      action: 'clone',
    });
  });
});

describe('describePeer', () => {
  it('shows host, port, role, timeline and system identifier', () => {
    assert.equal(
      describePeer(member('db', false, 3, 5433)),
      `db:5433 (primary, timeline 3, system identifier ${SYSID})`,
    );
  });
});
