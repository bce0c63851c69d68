import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { parseAgentEnv } from '../../src/core/config/schema.js';
import {
  etaSeconds,
  formatProgress,
  parseProgressSetting,
  percent,
  resolveProgressMode,
  Throttle,
} from '../../src/core/progress.js';
import { runSnapshot } from '../../src/runtime/snapshot/run.js';
import { loadAgentConfig } from '../../src/core/config/load.js';
import type { SnapshotApi, VolumeSnapshot } from '../../src/core/snapshot/model.js';
import { verboseItems } from '../../src/runtime/backup/restore-into.js';
import { createLogger } from '../../src/runtime/log.js';
import { startProgress, type ProgressOptions } from '../../src/runtime/progress.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe('progress lines', () => {
  it('shows bytes written, the rate and the elapsed time when no total is known', () => {
    const line = formatProgress(
      { label: 'backup backup_20261125_020000', unit: 'bytes', verb: 'written' },
      { done: 1.2 * GiB, elapsedMs: 25_000 },
    );
    assert.equal(line, 'backup backup_20261125_020000: 1.2 GiB written, 49.2 MiB/s, 25s');
  });

  it('shows x/y, the percentage and an ETA when the total is known', () => {
    const line = formatProgress(
      { label: 'restore app', unit: 'bytes', verb: 'read' },
      { done: 1 * GiB, total: 4 * GiB, elapsedMs: 60_000 },
    );
    assert.equal(line, 'restore app: 1.0 GiB/4.0 GiB read (25%), 17.1 MiB/s, 1m, ETA 3m');
  });

  it('counts items against the total and names the current item, without an ETA (items differ in size)', () => {
    const line = formatProgress(
      { label: 'restore app', unit: 'items', verb: 'items' },
      { done: 120, total: 450, elapsedMs: 12_000, current: 'processing data for table "public.t"' },
    );
    assert.equal(line, 'restore app: 120/450 items (26%), 12s, processing data for table "public.t"');
  });

  it('never claims 100% before the work is finished, even when the count overshoots the total', () => {
    assert.equal(percent(999, 1000), 99);
    assert.equal(percent(1200, 1000), 99);
    assert.equal(percent(1, 1000, true), 100);
    const line = formatProgress(
      { label: 'restore app', unit: 'items', verb: 'items' },
      { done: 12, total: 10, elapsedMs: 1000 },
    );
    assert.match(line, /10\/10 items \(99%\)/);
    assert.doesNotMatch(line, /ETA/);
  });

  it('prints the final line as complete, without ETA or current item', () => {
    const line = formatProgress(
      { label: 'restore app', unit: 'items', verb: 'items' },
      { done: 8, total: 10, elapsedMs: 3000, current: 'creating INDEX "public.i"' },
      true,
    );
    assert.equal(line, 'restore app: 10/10 items (100%), 3s');
  });

  it('adds context such as the database size without treating it as a total', () => {
    const line = formatProgress(
      { label: 'backup b', unit: 'bytes', verb: 'written', note: 'database 12.0 GiB on disk' },
      { done: 10 * MiB, elapsedMs: 2000 },
    );
    assert.equal(line, 'backup b: 10.0 MiB written (database 12.0 GiB on disk), 5.0 MiB/s, 2s');
    assert.doesNotMatch(line, /%/);
  });

  it('shows how long a wait has lasted', () => {
    const spec = { label: 'snapshot s1', unit: 'wait' as const, verb: 'waiting for readyToUse' };
    assert.equal(
      formatProgress(spec, { done: 0, elapsedMs: 30_000 }),
      'snapshot s1: waiting for readyToUse, 30s',
    );
    assert.equal(
      formatProgress(spec, { done: 0, elapsedMs: 31_000 }, true),
      'snapshot s1: waiting for readyToUse, 31s (done)',
    );
  });

  it('gives no ETA before anything is done or without a total', () => {
    assert.equal(etaSeconds({ done: 0, total: 10, elapsedMs: 5000 }), undefined);
    assert.equal(etaSeconds({ done: 5, elapsedMs: 5000 }), undefined);
    assert.equal(etaSeconds({ done: 5, total: 10, elapsedMs: 5000 }), 5);
  });
});

describe('progress throttle', () => {
  it('emits a log line at most once per interval, the first one an interval after the start', () => {
    const t = new Throttle(5000, 0, false);
    assert.deepEqual(
      [0, 1000, 4999, 5000, 6000, 9999, 10_000, 30_000].map((ms) => t.due(ms)),
      [false, false, false, true, false, false, true, true],
    );
  });

  it('shows a terminal line at once, then about four times a second', () => {
    const t = new Throttle(250, 0, true);
    assert.deepEqual(
      [0, 100, 249, 250, 300, 500].map((ms) => t.due(ms)),
      [true, false, false, true, false, true],
    );
  });
});

describe('progress setting (PGOPS_PROGRESS)', () => {
  it('uses a rewritten line on a terminal with text logs, and log lines otherwise', () => {
    const auto = parseProgressSetting('auto');
    assert.deepEqual(resolveProgressMode(auto, true, 'text'), { mode: 'tty', intervalMs: 250 });
    assert.deepEqual(resolveProgressMode(auto, true, 'json'), { mode: 'log', intervalMs: 5000 });
    assert.deepEqual(resolveProgressMode(auto, false, 'text'), { mode: 'log', intervalMs: 5000 });
  });

  it('follows an explicit mode (the CLI says tty when it pipes the agent) and an interval in seconds', () => {
    assert.deepEqual(resolveProgressMode(parseProgressSetting('tty'), false, 'text'), {
      mode: 'tty',
      intervalMs: 250,
    });
    assert.deepEqual(resolveProgressMode(parseProgressSetting('log:60'), true, 'text'), {
      mode: 'log',
      intervalMs: 60_000,
    });
    assert.deepEqual(parseProgressSetting('log:0.05'), { mode: 'log', intervalMs: 50 });
    assert.equal(resolveProgressMode(parseProgressSetting('off'), true, 'text').mode, 'off');
  });

  it('is accepted by the agent schema with a default of auto, and a typo is an error', () => {
    const ok = parseAgentEnv({});
    assert.equal(ok.ok && ok.value.PGOPS_PROGRESS, 'auto');
    const bad = parseAgentEnv({ PGOPS_PROGRESS: 'yes' });
    assert.equal(bad.ok, false);
    assert.equal(parseAgentEnv({ PGOPS_PROGRESS: 'log:2.5' }).ok, true);
  });
});

describe('progress reporter', () => {
  function recorder(mode: 'tty' | 'log', intervalMs: number) {
    let now = 0;
    const written: string[] = [];
    const logged: string[] = [];
    const opts: ProgressOptions = {
      mode,
      intervalMs,
      log: createLogger('json', {}, (l) => logged.push(l)),
      write: (t) => written.push(t),
      now: () => now,
    };
    return { opts, written, logged, tick: (ms: number) => (now += ms) };
  }

  it('rewrites one terminal line and ends it with a newline when done', () => {
    const r = recorder('tty', 250);
    const p = startProgress({ label: 'backup b', unit: 'bytes', verb: 'written' }, r.opts);
    p.update(0);
    r.tick(100);
    p.update(MiB); // throttled
    r.tick(200);
    p.update(2 * MiB);
    r.tick(700);
    p.finish(3 * MiB);
    assert.equal(r.written.length, 3);
    assert.ok(r.written.every((w) => w.startsWith('\r')));
    assert.match(r.written[1]!, /2\.0 MiB written/);
    assert.ok(r.written[2]!.endsWith('3.0 MiB written, 3.0 MiB/s, 1s\u001b[K\n'), r.written[2]);
    assert.deepEqual(r.logged, []);
  });

  it('ends an open terminal line on failure so the error starts on its own line', () => {
    const r = recorder('tty', 250);
    const p = startProgress({ label: 'backup b', unit: 'bytes', verb: 'written' }, r.opts);
    p.update(10);
    p.abort();
    p.update(20);
    assert.equal(r.written.at(-1), '\n');
    assert.equal(r.written.length, 2);
  });

  it('logs a plain line with the byte count each interval and nothing extra at the end', () => {
    const r = recorder('log', 5000);
    const p = startProgress({ label: 'backup b', unit: 'bytes', verb: 'written' }, r.opts);
    for (let i = 1; i <= 12; i++) {
      r.tick(1000);
      p.update(i * MiB);
    }
    p.finish(12 * MiB);
    assert.equal(r.logged.length, 2);
    const first = JSON.parse(r.logged[0]!);
    assert.equal(first.level, 'info');
    assert.equal(first.msg, 'backup b: 5.0 MiB written, 1.0 MiB/s, 5s');
    assert.equal(first.bytes, 5 * MiB);
    assert.deepEqual(r.written, []);
  });

  it('prints nothing when off, and a wait that never showed a line ends silently', () => {
    const off = recorder('log', 10);
    off.opts.mode = 'off';
    const p = startProgress({ label: 'backup b', unit: 'bytes', verb: 'written' }, off.opts);
    off.tick(1000);
    p.update(1);
    p.finish();
    assert.deepEqual([off.logged, off.written], [[], []]);
    const tty = recorder('tty', 250);
    startProgress({ label: 'snapshot s', unit: 'wait', verb: 'waiting for readyToUse' }, tty.opts).finish();
    assert.deepEqual(tty.written, []);
  });
});

describe('pg_restore --verbose progress', () => {
  it('counts one item per started TOC entry, names the current one, and keeps only errors for the message', () => {
    const seen: { done: number; current?: string }[] = [];
    const v = verboseItems({
      update: (done, extra) => seen.push({ done, current: extra?.current }),
      finish() {},
      abort() {},
    });
    const stderr = [
      'pg_restore: connecting to database for restore',
      'pg_restore: creating TABLE "public.a"',
      'pg_restore: entering main parallel loop',
      'pg_restore: launching item 3346 TABLE DATA a',
      'pg_restore: processing data for table "public.a"',
      'pg_restore: while PROCESSING TOC:',
      'pg_restore: from TOC entry 3346; 0 16384 TABLE DATA a postgres',
      'pg_restore: error: COPY failed for table "a": ERROR:  boom',
      'DETAIL:  Failing row contains (1).',
      'pg_restore: finished item 3347 TABLE DATA b',
      'pg_restore: executing SEQUENCE SET s',
      'pg_restore: error: a worker process died unexpectedly',
      '',
    ].join('\n');
    // Chunks split mid-line, as a pipe delivers them.
    for (let i = 0; i < stderr.length; i += 7) v.onStderr(stderr.slice(i, i + 7));
    assert.deepEqual(seen, [
      { done: 1, current: 'creating TABLE "public.a"' },
      { done: 2, current: 'processing data for table "public.a"' },
      { done: 3, current: 'executing SEQUENCE SET s' },
    ]);
    assert.equal(
      v.errors(),
      [
        'pg_restore: while PROCESSING TOC:',
        'pg_restore: from TOC entry 3346; 0 16384 TABLE DATA a postgres',
        'pg_restore: error: COPY failed for table "a": ERROR:  boom',
        'DETAIL:  Failing row contains (1).',
        'pg_restore: error: a worker process died unexpectedly',
        '',
      ].join('\n'),
    );
  });
});

describe('snapshot wait progress', () => {
  it('logs how long it has waited for the cut and for readyToUse, every interval of the wait', async () => {
    let now = 0;
    let polls = 0;
    let snap: VolumeSnapshot | undefined;
    // The storage cuts the snapshot at the 4th poll and makes it ready at the 8th (10 s apart):
    // three polls of each wait find it not yet there, logged from the first interval on.
    const api: SnapshotApi = {
      namespace: 'pyairtable',
      async create(s) {
        snap = structuredClone(s);
        return s;
      },
      async get() {
        if (!snap) return null;
        polls++;
        snap.status = {
          readyToUse: polls >= 8,
          ...(polls >= 4 ? { creationTime: new Date(now).toISOString() } : {}),
        };
        return structuredClone(snap);
      },
      async list() {
        return snap ? [structuredClone(snap)] : [];
      },
      async delete() {},
      async annotate() {},
    };
    const logged: { msg: string; waitedSeconds?: number }[] = [];
    const env = loadAgentConfig({ PGOPS_NAMESPACE: 'pyairtable', PGOPS_PROGRESS: 'log:10' });
    const result = await runSnapshot({ name: 'snap-1' }, env, {
      api,
      clock: { now: () => now, sleep: async (ms) => void (now += ms) },
      now: () => new Date(now),
      log: createLogger('json', {}, (l) => logged.push(JSON.parse(l))),
      out: { line() {}, result() {}, raw() {} },
      openSession: async () => ({
        start: async () => ({ startLsn: '0/1000000', timeline: 1 }),
        stop: async () => ({ stopLsn: '0/2000000' }),
        close: async () => undefined,
      }),
      pollMs: 10_000,
    });
    assert.equal(result.readyToUse, true);
    const waits = logged.filter((l) => l.msg.startsWith('snapshot snap-1: waiting'));
    assert.deepEqual(
      waits.map((l) => l.msg),
      [
        'snapshot snap-1: waiting for the storage to cut it (creationTime), 10s',
        'snapshot snap-1: waiting for the storage to cut it (creationTime), 20s',
        'snapshot snap-1: waiting for readyToUse, 10s',
        'snapshot snap-1: waiting for readyToUse, 20s',
      ],
    );
    assert.equal(waits[0]!.waitedSeconds, 10);
  });
});
