import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  parsePeers,
  PROMOTED_MARKER,
  timelineOfWalFile,
  type PeerFacts,
} from '../../core/instance/decide.js';
import { OperationFailed, SafetyRefusal, UsageError, whileDoing } from '../../core/errors.js';
import type { OutputFormat } from '../../core/output.js';
import { requireSecret } from '../../runtime/secrets.js';
import { probeMember, withClient, type Login } from '../../runtime/instance/sql.js';
import { upstreamLogin, withClusterOperation } from '../../runtime/cluster-operation.js';
import type { AgentContext } from '../context.js';

export interface PromoteOptions {
  force?: boolean;
  waitSeconds?: string;
  output?: OutputFormat;
}

export interface PromoteResult {
  promoted: boolean;
  timeline: number;
  lsn: string;
  message: string;
}

/**
 * Promotes the replica this container supervises. Fenced: refuses while the old primary (or any
 * peer that is a primary) still answers as a primary, because two primaries lose writes. A server
 * that is already a primary is left alone (exit 0), so running it twice is harmless.
 */
export async function promote(opts: PromoteOptions, ctx: AgentContext): Promise<PromoteResult> {
  return withClusterOperation(
    upstreamLogin(ctx.env),
    `promote ${ctx.env.PGOPS_POD_NAME}`,
    () => promoteThis(opts, ctx),
    { log: ctx.log, whenUnreachable: 'proceed', connectTimeoutMs: 5000 },
  );
}

async function promoteThis(opts: PromoteOptions, ctx: AgentContext): Promise<PromoteResult> {
  const env = ctx.env;
  const waitSeconds = Number(opts.waitSeconds ?? '60');
  if (!Number.isInteger(waitSeconds) || waitSeconds < 1) {
    throw new UsageError(
      'E_USAGE',
      `--wait-seconds must be a whole number >= 1, not "${opts.waitSeconds}"`,
      {},
      {
        hint: 'Example: postgres-agent promote --wait-seconds 60',
      },
    );
  }
  const password = requireSecret(env, 'PGOPS_SUPERUSER_PASSWORD', 'to connect to the local server');
  const local: Login = {
    host: env.PGOPS_SOCKET_DIR,
    port: env.PGOPS_PORT,
    user: env.PGOPS_SUPERUSER,
    password,
  };
  const format = opts.output ?? 'table';
  const render = (r: PromoteResult) => r.message;

  const inRecovery = await withClient(
    local,
    async (c) => (await c.query('SELECT pg_is_in_recovery() AS r')).rows[0].r as boolean,
  ).catch((err) => {
    throw new OperationFailed(
      'E_LOCAL_UNREACHABLE',
      `cannot connect to the local PostgreSQL (socket ${env.PGOPS_SOCKET_DIR}, port ${env.PGOPS_PORT}): ${(err as Error).message}`,
      {},
      { hint: 'Run this inside the replica container while postgres-agent instance is running.' },
    );
  });
  if (!inRecovery) {
    const pos = await position(local);
    const result = {
      promoted: false,
      ...pos,
      message: `this server is already a primary (timeline ${pos.timeline}); nothing to do`,
    };
    ctx.out.result(result, format, render);
    return result;
  }

  const candidates = parsePeers(env.PGOPS_PEERS, env.PGOPS_PORT);
  if (env.PGOPS_PRIMARY_HOST)
    candidates.unshift({ host: env.PGOPS_PRIMARY_HOST, port: env.PGOPS_PRIMARY_PORT });
  const answers = (
    await Promise.all(candidates.map((m) => probeMember({ ...m, user: env.PGOPS_SUPERUSER, password })))
  ).filter((p): p is PeerFacts => p !== undefined && !p.inRecovery);
  if (answers.length > 0) {
    const names = answers.map((p) => `${p.host}:${p.port} (timeline ${p.timeline})`).join(', ');
    if (!opts.force) {
      throw new SafetyRefusal(
        'E_PRIMARY_ALIVE',
        `refusing to promote: the primary at ${names} still accepts writes; promoting now would make two primaries and writes to the old one would be lost`,
        { primaries: answers.map((p) => `${p.host}:${p.port}`) },
        {
          hint: 'Stop the old primary first (kubectl scale statefulset <release>-postgres --replicas=0), then run promote again; --force promotes anyway.',
        },
      );
    }
    ctx.log.warn(`promoting although ${names} still answers as a primary (--force)`);
  }

  await withClient(
    local,
    async (c) => {
      const r = await c.query('SELECT pg_promote(true, $1) AS ok', [waitSeconds]);
      if (!r.rows[0].ok) {
        throw new OperationFailed(
          'E_PROMOTE_TIMEOUT',
          `promotion did not finish within ${waitSeconds} s`,
          {},
          {
            hint: 'Look at the PostgreSQL log of this replica; run promote again with a larger --wait-seconds.',
          },
        );
      }
    },
    (waitSeconds + 10) * 1000,
  ).catch((err) => {
    throw whileDoing('promoting this replica', err);
  });
  // A checkpoint writes the new timeline into pg_control, which pg_rewind of the old primary reads.
  await withClient(local, (c) => c.query('CHECKPOINT'), 120_000).catch((err) =>
    ctx.log.warn(`checkpoint after promotion failed: ${(err as Error).message}`),
  );
  const pos = await position(local);
  // Recorded so that this member, still configured as a replica, starts as the primary after a
  // restart (fenced like any primary) instead of waiting for a primary that no longer exists.
  try {
    writeFileSync(
      join(env.PGDATA, PROMOTED_MARKER),
      JSON.stringify({ timeline: pos.timeline, lsn: pos.lsn, at: new Date().toISOString() }) + '\n',
      { mode: 0o600 },
    );
  } catch (err) {
    ctx.log.warn(
      `could not record the promotion in ${env.PGDATA}: ${(err as Error).message}; set PGOPS_ROLE=primary for this member before it restarts`,
    );
  }
  const result = {
    promoted: true,
    ...pos,
    message: `promoted: this server is now the primary on timeline ${pos.timeline} at ${pos.lsn}`,
  };
  ctx.out.result(result, format, render);
  return result;
}

async function position(local: Login): Promise<{ timeline: number; lsn: string }> {
  return withClient(local, async (c) => {
    const r = await c.query(
      'SELECT pg_walfile_name(pg_current_wal_lsn()) AS f, pg_current_wal_lsn()::text AS lsn',
    );
    const row = r.rows[0] as { f: string; lsn: string };
    return { timeline: timelineOfWalFile(row.f), lsn: row.lsn };
  });
}
