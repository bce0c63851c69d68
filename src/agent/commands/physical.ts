/**
 * postgres-agent physical-backup | physical-info: pgBackRest backups, run where the repository is a
 * folder on this machine (local mode; the repository pod on Kubernetes). `-o json` is an interface.
 */
import { UsageError } from '../../core/errors.js';
import { formatBytes, formatDuration, renderTable, type OutputFormat } from '../../core/output.js';
import {
  earliestRecoverable,
  physicalEntries,
  windowStart,
  type PhysicalType,
} from '../../core/pitr/info.js';
import type { PhysicalInfo } from '../../core/pitr/results.js';
import { connectionFromEnv } from '../../runtime/backup/conn.js';
import { runPhysicalBackup, type PhysicalBackupResult } from '../../runtime/pitr/backup.js';
import { configuredRepos, jobConf, localRepos, repoLocations } from '../../runtime/pitr/config.js';
import { pgbackrestInfoEach } from '../../runtime/pitr/pgbackrest.js';
import type { AgentContext } from '../context.js';

const TYPES: PhysicalType[] = ['full', 'diff', 'incr'];

/** Each repository's outcome, the window and what retention removed. */
export function renderPhysicalBackup(r: PhysicalBackupResult): string {
  return [
    renderTable(
      ['REPO', 'STATUS', 'LABEL', 'SIZE', 'DURATION'],
      r.outcomes.map((o) => [
        o.repo,
        o.status,
        o.backup?.label ?? '-',
        o.backup ? formatBytes(o.backup.repoSizeBytes) : '-',
        formatDuration(o.durationSeconds),
      ]),
    ),
    '',
    `recoverable from: ${
      Object.entries(r.recoverability)
        .map(([repo, at]) => `${repo} ${at ?? '-'}`)
        .join(', ') || '-'
    }`,
    ...(r.expired.length ? [`expired (retention): ${r.expired.join(', ')}`] : []),
  ].join('\n');
}

export function requirePitr(ctx: AgentContext, what: string) {
  if (!ctx.env.PGOPS_PITR)
    throw new UsageError(
      'E_PITR_OFF',
      `${what} needs point-in-time recovery, which is off (PGOPS_PITR)`,
      {},
      {
        hint:
          ctx.env.PGOPS_MODE === 'local'
            ? 'Local mode turns it on: postgres-ops local up'
            : 'Set databases.postgres.pitr.enabled=true and upgrade the release.',
      },
    );
}

function runnerOf(ctx: AgentContext) {
  const conf = jobConf(ctx.env, ctx.rawEnv);
  return { conf, runner: { configFile: conf.file, stanza: ctx.env.PGOPS_PGBACKREST_STANZA, env: conf.env } };
}

export async function physicalBackup(
  opts: { type?: string; name?: string; output?: OutputFormat },
  ctx: AgentContext,
): Promise<PhysicalBackupResult> {
  requirePitr(ctx, 'a physical backup');
  const type = (opts.type ?? 'full') as PhysicalType;
  if (!TYPES.includes(type))
    throw new UsageError(
      'E_USAGE',
      `--type must be full, diff or incr, not "${opts.type}"`,
      {},
      {
        hint: 'Example: postgres-ops backup --physical --type diff',
      },
    );
  const repos = localRepos(ctx.env);
  if (repos.length === 0)
    throw new UsageError(
      'E_NO_REPOSITORY',
      'no repository is on this machine: pgBackRest 2.45 backs up only where a repository is local',
      {},
      {
        hint: 'On Kubernetes backups run in the repository pod: postgres-ops backup --physical does that for you.',
      },
    );
  const { conf, runner } = runnerOf(ctx);
  try {
    const result = await runPhysicalBackup(
      { type, name: opts.name, repos },
      runner,
      connectionFromEnv(ctx.env),
      ctx.log,
    );
    ctx.out.result(result, opts.output ?? 'table', renderPhysicalBackup);
    return result;
  } finally {
    conf.dispose();
  }
}

export type { PhysicalInfo };

export async function physicalInfo(
  opts: { output?: OutputFormat },
  ctx: AgentContext,
): Promise<PhysicalInfo> {
  requirePitr(ctx, 'listing physical backups');
  const { conf, runner } = runnerOf(ctx);
  try {
    const info = await pgbackrestInfoEach(runner, configuredRepos(ctx.env));
    const result: PhysicalInfo = {
      stanza: info.stanza,
      status: { code: info.code, message: info.message },
      repos: info.repos,
      backups: physicalEntries(info, repoLocations(ctx.env, ctx.rawEnv)),
      earliest: earliestRecoverable(info),
      windowStart: windowStart(info),
    };
    ctx.out.result(result, opts.output ?? 'table', (r) =>
      r.backups.length === 0
        ? `No physical backups (${r.status.message}).`
        : renderTable(
            ['LABEL', 'TYPE', 'REPO', 'STOPPED', 'SIZE', 'TIMELINE'],
            r.backups.map((b) => [
              b.name,
              b.type,
              b.repo,
              b.createdAt,
              formatBytes(b.sizeBytes),
              String(b.timeline),
            ]),
          ),
    );
    return result;
  } finally {
    conf.dispose();
  }
}
