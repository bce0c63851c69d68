import { OperationFailed } from '../../core/errors.js';
import { formatBytes, formatDuration, renderTable } from '../../core/output.js';
import { formatDocument } from '../../runtime/output-host.js';
import { outputClosed } from '../../runtime/stdio.js';
import type { ClusterApi } from '../../core/cluster/cluster-api.js';
import type { OpsDeps } from '../deps.js';
import type { ArgsOf, OptionsOf } from '../program.js';
import { type CounterReading, type MonitorSample, sampleFrom } from '../monitor-model.js';
import {
  MONITOR_INACTIVE_SLOTS_SQL,
  MONITOR_QUERIES_SQL,
  MONITOR_REPLICATION_SQL,
  MONITOR_SQL,
} from '../../core/cluster/sql.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function primaryOf(cluster: ClusterApi): Promise<{ name: string; members: string[] }> {
  const members = await cluster.members();
  const p = members.find((m) => m.expectedRole === 'primary' && m.running) ?? members.find((m) => m.running);
  if (!p)
    throw new OperationFailed(
      'E_NO_PRIMARY',
      'no running PostgreSQL to monitor',
      {},
      {
        hint: cluster.mode === 'local' ? 'Start it: postgres-ops local up' : 'See: postgres-ops status',
      },
    );
  return { name: p.name, members: members.map((m) => m.name) };
}

async function read(cluster: ClusterApi, member: string): Promise<CounterReading> {
  const [row] = await cluster.query(member, MONITOR_SQL);
  return row as unknown as CounterReading;
}

export function renderSample(s: MonitorSample): string {
  const lines = [
    `${s.at}  ${s.instance}`,
    renderTable(
      ['CONNECTIONS', 'TPS', 'ROLLBACK/S', 'CACHE HIT', 'LOCKS (WAITING)', 'DEADLOCKS', 'DATABASES'],
      [
        [
          `${s.connections}/${s.maxConnections} (${s.connectionPercent}%)`,
          s.tps ?? '-',
          s.rollbacksPerSecond ?? '-',
          s.cacheHitPercent === null ? '-' : `${s.cacheHitPercent}%`,
          `${s.locks} (${s.locksWaiting})`,
          s.deadlocks,
          formatBytes(s.databaseBytes),
        ],
      ],
    ),
    '',
    s.replication.length
      ? renderTable(
          ['REPLICA', 'STATE', 'LAG BYTES', 'LAG'],
          s.replication.map((r) => [
            r.name,
            r.state,
            r.lagBytes === null ? null : formatBytes(r.lagBytes),
            r.lagSeconds === null ? null : formatDuration(r.lagSeconds),
          ]),
        )
      : 'No replicas streaming.',
    ...(s.inactiveSlots.length
      ? [
          '',
          renderTable(
            ['INACTIVE SLOT', 'MEMBER', 'TYPE', 'WAL STATUS', 'WAL RETAINED'],
            s.inactiveSlots.map((x) => [
              x.name,
              x.member,
              x.type,
              x.walStatus,
              x.retainedBytes === null ? null : formatBytes(x.retainedBytes),
            ]),
          ),
          'An inactive slot keeps WAL until its replica streams again; drop it if the replica is gone:',
          "  SELECT pg_drop_replication_slot('NAME');  (runbook: docs/monitoring.md#postgresqlreplicationslotinactive)",
        ]
      : []),
    '',
    s.longestQueries.length
      ? renderTable(
          ['PID', 'USER', 'DATABASE', 'STATE', 'RUNNING', 'WAIT', 'QUERY'],
          s.longestQueries.map((q) => [
            q.pid,
            q.user,
            q.database,
            q.state,
            `${q.seconds}s`,
            q.waitingOn,
            q.query,
          ]),
        )
      : 'No active queries.',
  ];
  return lines.join('\n');
}

/** A live view (every --interval seconds until Ctrl-C), or one sample with --once. */
export async function monitor(
  _args: ArgsOf<'monitor'>,
  flags: OptionsOf<'monitor'>,
  deps: OpsDeps,
): Promise<MonitorSample> {
  const { interval } = flags;
  const { cluster } = deps;
  const { name: member, members } = await primaryOf(cluster);
  let prev = await read(cluster, member);
  // Rates need two readings: the first sample waits one interval (one second with --once).
  await sleep(flags.once ? 1000 : interval * 1000);
  let stop = false;
  const onSig = () => (stop = true);
  process.once('SIGINT', onSig);
  try {
    for (;;) {
      const cur = await read(cluster, member);
      const [replication, queries, slots] = await Promise.all([
        cluster.query(member, MONITOR_REPLICATION_SQL),
        cluster.query(member, MONITOR_QUERIES_SQL),
        cluster.query(member, MONITOR_INACTIVE_SLOTS_SQL),
      ]);
      const sample = sampleFrom(member, prev, cur, replication, queries, slots, members);
      if (flags.once) {
        deps.out.result(sample, deps.opts.output, renderSample);
        return sample;
      }
      const { stdout } = deps.out;
      if (deps.opts.output === 'json') stdout.write(JSON.stringify(sample) + '\n');
      else if (deps.opts.output === 'yaml') stdout.write(`---\n${formatDocument(sample, 'yaml')}`);
      else {
        if (stdout.isTTY) stdout.write('\x1b[2J\x1b[H');
        stdout.write(renderSample(sample) + `\n\n(every ${interval}s; Ctrl-C to stop)\n`);
      }
      prev = cur;
      // Ctrl-C, or whoever read the output went away (`monitor | head`): end quietly.
      for (let waited = 0; waited < interval * 1000 && !stop && !outputClosed(); waited += 100)
        await sleep(100);
      if (stop || outputClosed()) return sample;
    }
  } finally {
    process.removeListener('SIGINT', onSig);
  }
}
