import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MEMBER_FACTS_SQL, parseMemberFacts } from '../../src/core/pg/member-facts.js';

const standby = {
  in_recovery: true,
  timeline: 3,
  lsn: '0/5000060',
  received_lsn: '0/5000100',
  replay_lag_bytes: '160',
  replay_age_seconds: 1.5,
  receiver_status: 'streaming',
  upstream: 'pg-0.pg-hl:5432',
};

describe('member facts', () => {
  it('reads a standby row as node-postgres returns it (bigint as text)', () => {
    assert.deepEqual(parseMemberFacts(standby), {
      inRecovery: true,
      timeline: 3,
      lsn: '0/5000060',
      receivedLsn: '0/5000100',
      replayLagBytes: 160,
      replayAgeSeconds: 1.5,
      receiverStatus: 'streaming',
      upstream: 'pg-0.pg-hl:5432',
    });
  });

  it('reads the same row as JSON rows carry it (numbers), as status does through psql', () => {
    assert.equal(parseMemberFacts({ ...standby, replay_lag_bytes: 160 }).replayLagBytes, 160);
  });

  it('reads a primary: no receiver, no received position, no replay lag', () => {
    const f = parseMemberFacts({
      in_recovery: false,
      timeline: 2,
      lsn: '0/7000000',
      received_lsn: null,
      replay_lag_bytes: null,
      replay_age_seconds: null,
      receiver_status: null,
      upstream: null,
    });
    assert.equal(f.inRecovery, false);
    assert.equal(f.timeline, 2);
    assert.equal(f.receivedLsn, null);
    assert.equal(f.replayLagBytes, null);
  });

  it('never reports a negative replay lag (replay can pass what the receiver last reported)', () => {
    assert.equal(parseMemberFacts({ ...standby, replay_lag_bytes: '-24' }).replayLagBytes, 0);
  });

  it('refuses a row of another shape instead of reading undefined as facts', () => {
    assert.throws(() => parseMemberFacts({ r: true }));
    assert.throws(() => parseMemberFacts(undefined));
  });

  it('names in its SQL every column the parser reads', () => {
    for (const col of [
      'in_recovery',
      'timeline',
      'lsn',
      'received_lsn',
      'replay_lag_bytes',
      'replay_age_seconds',
      'receiver_status',
      'upstream',
    ])
      assert.match(MEMBER_FACTS_SQL, new RegExp(`AS ${col}\\b`));
  });
});
