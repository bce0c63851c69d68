/**
 * Failover and switchover on real members (PostgreSQL under Patroni, a local etcd), with Patroni's
 * default timings (lease 30 s, loop 10 s, retry 10 s) unless --fast:
 *   - failover: kill -9 of the primary's agent, Patroni and postmaster under a write load that
 *     records every acknowledged commit; time from the kill to the first acknowledged write on the
 *     new primary, and acknowledged commits missing from it; asynchronous and synchronous;
 *   - switchover: `postgres-ops promote` under the same load; the longest gap between two
 *     acknowledged writes.
 * Each is run --runs times (default 5) and reported as min / median / max. Reported, not asserted.
 * Usage: npm run build && npx tsx bench/failover.ts [--runs 5] [--fast]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll } from '../test/support/cleanup.js';
import { FAST_HA, sleep, startHaCluster, WriteLoad, type HaCluster } from '../test/support/ha.js';
import { repoRoot } from '../test/support/tools.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const runs = arg('runs', 5);
const fast = process.argv.includes('--fast');
const ha = fast ? FAST_HA : { ttl: 30, loopWait: 10, retryTimeout: 10 };

const log = (s: string) => process.stderr.write(`${new Date().toISOString()} ${s}\n`);

function stats(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { runs: s.length, min: s[0] ?? NaN, median: mid, max: s[s.length - 1] ?? NaN, values };
}

async function failoverRuns(synchronous: boolean) {
  const c = await startHaCluster({ replicas: 2, synchronous, ha });
  const seconds: number[] = [];
  const lost: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const old = await c.leader();
    for (const n of c.names()) if (n !== old) await c.waitStreaming(n);
    if (synchronous) await c.waitSyncStandby();
    const load = new WriteLoad(c);
    await load.start();
    await sleep(3000);
    const killedAt = Date.now();
    c.kill9Member(old);
    let first: number | undefined;
    while (!first && Date.now() - killedAt < 180_000) {
      first = load.acks.find((a) => a.at > killedAt && a.member !== old)?.at;
      await sleep(20);
    }
    await sleep(2000);
    await load.stop();
    const leader = await c.leader();
    const missing = (await load.lost(leader)).length;
    seconds.push(first ? (first - killedAt) / 1000 : NaN);
    lost.push(missing);
    log(
      `${synchronous ? 'sync ' : 'async'} run ${run}: ${old} killed, ${leader} acknowledged a write after ${seconds.at(-1)} s; ${missing} of ${load.acks.length} acknowledged commits lost`,
    );
    await c.up(); // the killed member comes back (rewound) for the next run
    await c.query(leader, 'DROP TABLE ha_load');
  }
  return { secondsToFirstWrite: stats(seconds), acknowledgedCommitsLost: stats(lost) };
}

async function switchoverRuns(c: HaCluster) {
  const pauses: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const old = await c.leader();
    const target = c.names().find((n) => n !== old)!;
    await c.waitStreaming(target);
    const load = new WriteLoad(c);
    await load.start();
    await sleep(2000);
    const from = Date.now();
    const r = await c.ops(['promote', target, '--yes']);
    if (r.code !== 0) throw new Error(`promote failed: ${r.stderr}`);
    await sleep(3000);
    await load.stop();
    const acks = load.acks.filter((a) => a.at >= from - 1000);
    let pause = 0;
    for (let i = 1; i < acks.length; i++) pause = Math.max(pause, acks[i]!.at - acks[i - 1]!.at);
    pauses.push(pause / 1000);
    log(`switchover run ${run}: ${old} -> ${target}, longest write pause ${pause / 1000} s`);
    await c.waitStreaming(old);
    await c.query(target, 'DROP TABLE ha_load');
  }
  return { writePauseSeconds: stats(pauses) };
}

try {
  log(`timings: ${JSON.stringify(ha)}; ${runs} runs each`);
  const asynchronous = await failoverRuns(false);
  const synchronous = await failoverRuns(true);
  const sw = await switchoverRuns(await startHaCluster({ replicas: 1, ha }));
  const result = {
    when: new Date().toISOString(),
    command: `npm run build && npx tsx bench/failover.ts --runs ${runs}${fast ? ' --fast' : ''}`,
    timings: ha,
    failover: { asynchronous, synchronous },
    switchover: sw,
  };
  const dir = join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `failover-${result.when.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  const line = (name: string, s: ReturnType<typeof stats>, unit: string) =>
    `  ${name}: min ${s.min}${unit}, median ${s.median}${unit}, max ${s.max}${unit} (${s.runs} runs)\n`;
  process.stdout.write(
    `failover and switchover (lease ${ha.ttl} s, loop ${ha.loopWait} s, retry ${ha.retryTimeout} s):\n`,
  );
  process.stdout.write(
    line('failover, asynchronous: kill -9 to first write', asynchronous.secondsToFirstWrite, ' s'),
  );
  process.stdout.write(line('  acknowledged commits lost', asynchronous.acknowledgedCommitsLost, ''));
  process.stdout.write(
    line('failover, synchronous: kill -9 to first write', synchronous.secondsToFirstWrite, ' s'),
  );
  process.stdout.write(line('  acknowledged commits lost', synchronous.acknowledgedCommitsLost, ''));
  process.stdout.write(line('switchover write pause', sw.writePauseSeconds, ' s'));
  process.stdout.write(`saved ${file}\nreproduce: ${result.command}\n`);
} finally {
  await cleanupAll();
}
