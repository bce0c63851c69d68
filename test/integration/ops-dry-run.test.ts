/**
 * `--dry-run` of postgres-ops' mutations in local mode: each resolves what it would act on (an
 * unknown backup or snapshot is still exit 2), says what it would do in the words of its
 * confirmation question, exits 0 and changes nothing: rows, backups, snapshots and the state
 * folder are as they were. `-o yaml` prints the same object as `-o json`. One real cluster (a
 * primary with point-in-time recovery) for the file.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { cleanupAll, type HaCluster, startHaCluster } from '../support/ha.js';

after(cleanupAll);

const APP = 'pyairtable';

interface Plan {
  dryRun: true;
  action: string;
  release: string;
  mode: string;
  [k: string]: unknown;
}

describe('postgres-ops --dry-run (local mode)', () => {
  let c: HaCluster;
  let leader = '';

  const json = async <T>(args: string[]): Promise<T> => {
    const r = await c.ops([...args, '-o', 'json']);
    assert.equal(r.code, 0, `postgres-ops ${args.join(' ')}:\n${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const rows = async () =>
    (await c.query<{ id: number }>(leader, 'SELECT id FROM marks ORDER BY id', APP)).map((r) => r.id);
  const backups = async () => (await json<{ name: string }[]>(['list-backups'])).map((b) => b.name).sort();
  const snapshots = async () => (await json<{ name: string }[]>(['list-snapshots'])).map((s) => s.name);
  /** Everything that would tell a change: rows, backups of both kinds, snapshots, data directories. */
  const world = async () => ({
    rows: await rows(),
    backups: await backups(),
    snapshots: await snapshots(),
    stateDir: readdirSync(c.stateDir).sort(),
    dataDirs: readdirSync(join(c.stateDir, 'data')).sort(),
  });

  before(async () => {
    c = await startHaCluster({ replicas: 0, pitr: { archiveTimeoutSeconds: 5 } });
    leader = await c.leader();
    await c.query(leader, 'CREATE TABLE marks (id int PRIMARY KEY); INSERT INTO marks VALUES (1), (2)', APP);
    assert.equal((await c.ops(['backup', 'before-dry-runs'])).code, 0);
    const full = await c.ops(['backup', '--physical', '--type', 'full']);
    assert.equal(full.code, 0, full.stderr);
    assert.equal((await c.ops(['snapshot', 'snap-one'])).code, 0);
    await c.query(leader, 'INSERT INTO marks VALUES (3)', APP);
  });

  it('restore NAME --dry-run names the database and backup it would replace, exits 0 and restores nothing', async () => {
    const was = await world();
    const plan = await json<Plan>(['restore', 'before-dry-runs', '--dry-run']);
    assert.equal(plan.dryRun, true);
    assert.equal(plan.backup, 'before-dry-runs');
    assert.match(
      plan.action,
      /^replace database pyairtable of release pyairtable-stack \(local\) with .*before-dry-runs.* \(a safety backup is taken first\)$/,
    );
    const text = await c.ops(['restore', 'before-dry-runs', '--dry-run']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^dry run: this would replace database pyairtable .*\.\nNothing was changed\.$/m,
    );
    assert.deepEqual(await world(), was);
    assert.deepEqual(await rows(), [1, 2, 3]);
  });

  it('restore of an unknown backup name is still exit 2 with --dry-run, and changes nothing', async () => {
    const was = await world();
    const r = await c.ops(['restore', 'no-such-backup', '--dry-run', '-o', 'json']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error: .*no-such-backup/m);
    assert.equal(JSON.parse(r.stdout).error.code, 'E_NO_SUCH_BACKUP');
    assert.deepEqual(await world(), was);
  });

  it('restore --snapshot --dry-run resolves the snapshot (an unknown one is exit 2) and moves no data directory', async () => {
    const was = await world();
    const plan = await json<Plan>(['restore', '--snapshot', 'snap-one', '--dry-run']);
    assert.equal(plan.snapshot, 'snap-one');
    assert.match(plan.action, /replace their data with snapshot snap-one/);
    const unknown = await c.ops(['restore', '--snapshot', 'nope', '--dry-run']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^error: no snapshot named "nope"; nothing was changed$/m);
    assert.deepEqual(await world(), was);
  });

  it('restore --latest --dry-run checks the target against the archive, names the physical backup, and restores nothing', async () => {
    const was = await world();
    const plan = await json<Plan>(['restore', '--latest', '--dry-run']);
    assert.match(
      plan.action,
      /^restore the whole cluster of release pyairtable-stack \(local\) to .* from physical backup \S+/,
    );
    assert.equal(typeof plan.target, 'string');
    const early = await c.ops(['restore', '--time', '2020-01-01 00:00:00+00', '--dry-run']);
    assert.notEqual(early.code, 0, 'a target before the window is refused in a dry run too');
    assert.deepEqual(await world(), was);
    assert.deepEqual(await rows(), [1, 2, 3]);
  });

  it('backup and snapshot --dry-run say what they would take and take nothing', async () => {
    const was = await world();
    const b = await json<Plan>(['backup', 'would-be', '--jobs', '2', '--dry-run']);
    assert.deepEqual([b.kind, b.name, b.jobs], ['logical', 'would-be', 2]);
    assert.match(
      b.action,
      /^take a logical backup would-be of release pyairtable-stack \(local\) with 2 parallel jobs$/,
    );
    const p = await json<Plan>(['backup', '--physical', '--type', 'diff', '--dry-run']);
    assert.deepEqual([p.kind, p.type], ['physical', 'diff']);
    const s = await json<Plan>(['snapshot', 'snap-two', '--dry-run']);
    assert.equal(s.name, 'snap-two');
    const bad = await c.ops(['backup', 'bad name!', '--dry-run']);
    assert.equal(bad.code, 2, 'a bad name is refused in a dry run too');
    assert.deepEqual(await world(), was);
  });

  it('local destroy --dry-run names the folder it would delete and deletes nothing', async () => {
    const plan = await json<Plan>(['local', 'destroy', '--dry-run']);
    assert.match(
      plan.action,
      /^stop the local PostgreSQL and DELETE .* \(data directories, backups, passwords\)$/,
    );
    assert.equal(existsSync(c.stateDir), true);
    assert.deepEqual(await rows(), [1, 2, 3]);
  });

  it('-o yaml prints the object -o json prints, for results and for errors', async () => {
    const asJson = await json<unknown>(['list-backups']);
    const r = await c.ops(['list-backups', '-o', 'yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parse(r.stdout), asJson);
    const plan = await c.ops(['restore', 'before-dry-runs', '--dry-run', '-o', 'yaml']);
    assert.equal((parse(plan.stdout) as Plan).backup, 'before-dry-runs');
    const err = await c.ops(['restore', 'no-such-backup', '-o', 'yaml']);
    assert.equal(err.code, 2);
    const doc = parse(err.stdout) as { error: { code: string; message: string } };
    assert.equal(doc.error.code, 'E_NO_SUCH_BACKUP');
    assert.match(doc.error.message, /no-such-backup/);
  });
});
