import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  backoffMs,
  parsePeers,
  planStart,
  primariesOfCluster,
  timelineOfWalFile,
  type PeerFacts,
  type StartFacts,
} from '../../src/core/instance/decide.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

const OURS = '7300000000000000001';
const OTHER = '7300000000000000999';
const primaryHost = { host: 'pyairtable-stack-postgres', port: 5432 };

function primary(host: string, timeline: number, systemIdentifier = OURS): PeerFacts {
  return { host, port: 5432, inRecovery: false, timeline, systemIdentifier };
}
function standby(host: string, timeline: number, systemIdentifier = OURS): PeerFacts {
  return { host, port: 5432, inRecovery: true, timeline, systemIdentifier };
}
function facts(over: Partial<StartFacts>): StartFacts {
  return {
    role: 'primary',
    dataDir: 'primary',
    localTimeline: 1,
    localSystemIdentifier: OURS,
    peers: [],
    primaryHost,
    ...over,
  };
}

describe('planStart with an empty data directory', () => {
  it('a primary with an empty directory bootstraps', () => {
    assert.deepEqual(planStart(facts({ dataDir: 'empty', localTimeline: undefined })), {
      action: 'bootstrap',
    });
  });

  it('a replica with an empty directory clones and never runs initdb', () => {
    for (const peers of [[], [primary('p', 1)], [standby('r', 1)]]) {
      const plan = planStart(facts({ role: 'replica', dataDir: 'empty', localTimeline: undefined, peers }));
      assert.deepEqual(plan, { action: 'clone' });
    }
  });

  it('a directory that is not a PostgreSQL data directory is never started', () => {
    const plan = planStart(facts({ dataDir: 'foreign' }));
    assert.equal(plan.action, 'wait');
  });
});

describe('planStart with a standby data directory', () => {
  it('follows the newest primary of the same cluster among the members that answered', () => {
    const plan = planStart(
      facts({
        dataDir: 'standby',
        role: 'replica',
        peers: [primary('old', 1), primary('new', 2), standby('r1', 2)],
      }),
    );
    assert.deepEqual(plan, { action: 'start-standby', upstream: { host: 'new', port: 5432 } });
  });

  it('a primary behind our own timeline is not followed: the configured primary is used instead', () => {
    const plan = planStart(
      facts({ dataDir: 'standby', role: 'replica', localTimeline: 3, peers: [primary('old', 2)] }),
    );
    assert.deepEqual(plan, { action: 'start-standby', upstream: primaryHost });
  });

  it('never follows a primary of another cluster (different system identifier)', () => {
    const plan = planStart(
      facts({ dataDir: 'standby', role: 'replica', peers: [primary('stranger', 9, OTHER)] }),
    );
    assert.deepEqual(plan, { action: 'start-standby', upstream: primaryHost });
  });

  it('never follows a member that is itself a standby', () => {
    const plan = planStart(facts({ dataDir: 'standby', role: 'replica', peers: [standby('r1', 5)] }));
    assert.deepEqual(plan, { action: 'start-standby', upstream: primaryHost });
  });

  it('a standby with no primary answering and no PGOPS_PRIMARY_HOST has no upstream', () => {
    const plan = planStart(facts({ dataDir: 'standby', role: 'replica', primaryHost: undefined }));
    assert.deepEqual(plan, { action: 'start-standby', upstream: undefined });
  });

  it('a standby directory stays a standby even with role primary: the role only decides for an empty directory', () => {
    const plan = planStart(facts({ dataDir: 'standby', role: 'primary', peers: [primary('p', 1)] }));
    assert.equal(plan.action, 'start-standby');
  });
});

describe('planStart with a data directory that was a primary (fencing)', () => {
  it('a primary with no member answering starts as the primary', () => {
    assert.deepEqual(planStart(facts({})), { action: 'start-primary' });
  });

  it('a newer-timeline primary among peers makes this instance rejoin as its standby', () => {
    const newer = primary('postgres-replica-0', 2);
    const plan = planStart(facts({ peers: [standby('r1', 2), newer] }));
    assert.deepEqual(plan, { action: 'rewind', source: newer });
  });

  it('rewinds from the newest of several newer primaries', () => {
    const plan = planStart(facts({ peers: [primary('tl2', 2), primary('tl3', 3)] }));
    assert.equal(plan.action, 'rewind');
    assert.equal(plan.action === 'rewind' && plan.source.host, 'tl3');
  });

  it('a primary on the same timeline makes this instance wait and names it', () => {
    const plan = planStart(facts({ peers: [primary('other-primary', 1)] }));
    assert.equal(plan.action, 'wait');
    assert.match(plan.action === 'wait' ? plan.reason : '', /other-primary:5432 .*same timeline 1/);
  });

  it('a primary on an older timeline still accepting writes makes this instance wait instead of starting a second primary', () => {
    // E.g. the old primary came back while this promoted member was down and took writes on timeline 1.
    for (const role of ['primary', 'replica'] as const) {
      const plan = planStart(
        facts({ role, localTimeline: 2, promotedTimeline: 2, peers: [primary('old-primary', 1)] }),
      );
      assert.equal(plan.action, 'wait', `role ${role}`);
      assert.match(plan.action === 'wait' ? plan.reason : '', /old-primary:5432/);
    }
  });

  it('ignores a primary of another cluster, however new its timeline', () => {
    const plan = planStart(facts({ peers: [primary('stranger', 7, OTHER)] }));
    assert.deepEqual(plan, { action: 'start-primary' });
  });

  it('a standby on a newer timeline is no reason to rewind', () => {
    assert.deepEqual(planStart(facts({ peers: [standby('r', 4)] })), { action: 'start-primary' });
  });

  it('a former primary with role replica and no promotion record waits instead of starting as primary', () => {
    const plan = planStart(facts({ role: 'replica' }));
    assert.equal(plan.action, 'wait');
    const reason = plan.action === 'wait' ? plan.reason : '';
    assert.match(reason, /PGOPS_ROLE is replica/);
    assert.match(reason, /pyairtable-stack-postgres:5432/);
  });

  it('names PGOPS_PRIMARY_HOST as unset when a former primary with role replica has none', () => {
    const plan = planStart(facts({ role: 'replica', primaryHost: undefined }));
    assert.match(plan.action === 'wait' ? plan.reason : '', /PGOPS_PRIMARY_HOST \(unset\)/);
  });

  it('a member promoted into its current timeline starts as the primary though its role says replica', () => {
    const plan = planStart(facts({ role: 'replica', localTimeline: 2, promotedTimeline: 2 }));
    assert.deepEqual(plan, { action: 'start-primary' });
  });

  it('a promotion record from an earlier timeline does not let a replica-role member start as primary', () => {
    const plan = planStart(facts({ role: 'replica', localTimeline: 3, promotedTimeline: 2 }));
    assert.equal(plan.action, 'wait');
  });

  it('a promoted member is fenced like any primary: a newer primary makes it rewind, a same-timeline one makes it wait', () => {
    const newer = primary('newer', 3);
    assert.deepEqual(
      planStart(facts({ role: 'replica', localTimeline: 2, promotedTimeline: 2, peers: [newer] })),
      { action: 'rewind', source: newer },
    );
    const same = planStart(
      facts({ role: 'replica', localTimeline: 2, promotedTimeline: 2, peers: [primary('twin', 2)] }),
    );
    assert.equal(same.action, 'wait');
  });
});

describe('primariesOfCluster', () => {
  it('keeps only primaries of the given cluster, newest timeline first', () => {
    const got = primariesOfCluster(
      [primary('a', 1), standby('b', 5), primary('c', 3), primary('d', 9, OTHER)],
      OURS,
    );
    assert.deepEqual(
      got.map((p) => p.host),
      ['c', 'a'],
    );
  });
});

describe('parsePeers', () => {
  it('reads host:port pairs, trims spaces, skips empty items and uses the default port when none is given', () => {
    assert.deepEqual(parsePeers(' a:5433, b ,,c.ns.svc:6000,', 5432), [
      { host: 'a', port: 5433 },
      { host: 'b', port: 5432 },
      { host: 'c.ns.svc', port: 6000 },
    ]);
  });

  it('reads bracketed IPv6 addresses with and without a port', () => {
    assert.deepEqual(parsePeers('[::1]:5433,[fd00::2]', 5432), [
      { host: '::1', port: 5433 },
      { host: 'fd00::2', port: 5432 },
    ]);
  });

  it('an empty PGOPS_PEERS means no peers', () => {
    assert.deepEqual(parsePeers('', 5432), []);
  });
});

describe('timelineOfWalFile and backoffMs', () => {
  it('reads the timeline from the first eight hex digits of a WAL file name', () => {
    assert.equal(timelineOfWalFile('000000010000000000000003'), 1);
    assert.equal(timelineOfWalFile('0000000A0000000000000003'), 10);
  });

  it('backs off 1, 2, 4 ... seconds and never waits more than 30 s', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 100].map((a) => backoffMs(a)),
      [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
    );
  });

  it('the full-disk retry starts at 2 s and is capped at 30 s', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((a) => backoffMs(a, 2000)),
      [2000, 4000, 8000, 16000, 30000],
    );
  });
});
