import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { planRetention, type RetentionBackup } from '../../src/core/backup/retention.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

const now = new Date('2026-11-25T12:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000).toISOString();
const b = (name: string, age: number, verified = true, database = 'app'): RetentionBackup => ({
  name,
  database,
  createdAt: daysAgo(age),
  verified,
});
const deleted = (plan: ReturnType<typeof planRetention>) =>
  plan.backups
    .filter((d) => d.action === 'delete')
    .map((d) => d.name)
    .sort();

describe('backup retention', () => {
  it('deletes backups older than the retention and keeps younger ones', () => {
    const plan = planRetention([b('new', 1), b('mid', 6.9), b('old', 8), b('older', 30)], [], now, 7);
    assert.deepEqual(deleted(plan), ['old', 'older']);
  });

  it('keeps the newest verified backup even when every backup is expired', () => {
    const plan = planRetention([b('a', 10), b('b', 20), b('c', 30)], [], now, 7);
    assert.deepEqual(deleted(plan), ['b', 'c']);
    assert.match(plan.backups.find((d) => d.name === 'a')!.reason, /newest verified/);
  });

  it('keeps the newest verified backup when the newest backup is unverified and everything is expired', () => {
    const plan = planRetention([b('unverified', 9, false), b('verified', 10), b('older', 11)], [], now, 7);
    assert.deepEqual(deleted(plan), ['older', 'unverified']);
  });

  it('never protects a damaged backup, even one still marked verified, nor keeps it as the only copy', () => {
    const damaged = { ...b('damaged', 9), damaged: true };
    const plan = planRetention([damaged, b('intact', 10), b('older', 11)], [], now, 7);
    assert.deepEqual(deleted(plan), ['damaged', 'older']);
    const alone = planRetention([{ ...b('only', 9, false), damaged: true }, b('x', 10, false)], [], now, 7);
    assert.deepEqual(deleted(alone), ['only']);
    const young = planRetention([{ ...b('recent', 1), damaged: true }], [], now, 7);
    assert.match(young.backups[0]!.reason, /damaged; kept within the retention/);
  });

  it('keeps the newest backup of a database that has no verified backup at all', () => {
    const plan = planRetention([b('x', 9, false), b('y', 10, false)], [], now, 7);
    assert.deepEqual(deleted(plan), ['y']);
  });

  it('keeps backups dated in the future and still protects the newest verified one with a sane date', () => {
    const future = { name: 'future', database: 'app', createdAt: '2027-06-01T00:00:00Z', verified: true };
    const plan = planRetention([future, b('sane', 10), b('old', 12)], [], now, 7);
    assert.deepEqual(deleted(plan), ['old']);
    assert.match(plan.backups.find((d) => d.name === 'future')!.reason, /future/);
    assert.match(plan.backups.find((d) => d.name === 'sane')!.reason, /newest verified/);
  });

  it('protects exactly one of two verified backups created at the same instant, chosen by name', () => {
    const t = daysAgo(10);
    const plan = planRetention(
      [
        { name: 'backup_a', database: 'app', createdAt: t, verified: true },
        { name: 'backup_b', database: 'app', createdAt: t, verified: true },
      ],
      [],
      now,
      7,
    );
    assert.deepEqual(deleted(plan), ['backup_a']);
  });

  it('applies the newest-verified rule per database', () => {
    const plan = planRetention(
      [b('app1', 10, true, 'app'), b('other1', 10, true, 'other'), b('app0', 11)],
      [],
      now,
      7,
    );
    assert.deepEqual(deleted(plan), ['app0']);
  });

  it('deletes temporary files older than an hour and keeps younger ones', () => {
    const plan = planRetention(
      [],
      [
        { file: '.old.dump.partial', modifiedAt: new Date(now.getTime() - 2 * 3600_000).toISOString() },
        { file: '.running.dump.partial', modifiedAt: new Date(now.getTime() - 60_000).toISOString() },
      ],
      now,
      7,
    );
    assert.deepEqual(
      plan.partials.map((p) => [p.file, p.action]),
      [
        ['.old.dump.partial', 'delete'],
        ['.running.dump.partial', 'keep'],
      ],
    );
  });
});
