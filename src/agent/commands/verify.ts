/**
 * postgres-agent verify [FILE|NAME|--all] [--deep]: checksum and archive check (default: the newest
 * backup); --deep restores into a scratch database and compares row counts. Exit 1 names each
 * failed file.
 */
import type { OutputFormat } from '../../core/output.js';
import { renderTable } from '../../core/output.js';
import { connectionFromEnv, verifyBackup, type VerifyResult } from '../../runtime/backup/index.js';
import type { AgentContext } from '../context.js';

export async function verify(
  file: string | undefined,
  opts: { all?: boolean; deep?: boolean; output?: OutputFormat },
  ctx: AgentContext,
): Promise<VerifyResult[]> {
  const env = ctx.env;
  const results = await verifyBackup(
    {
      backupDir: env.PGOPS_BACKUP_DIR,
      target: file,
      all: !!opts.all,
      deep: !!opts.deep,
      conn: opts.deep ? connectionFromEnv(env) : undefined,
      jobs: env.PGOPS_RESTORE_JOBS,
      binDir: env.PGOPS_PG_BIN_DIR,
    },
    { log: ctx.log },
  );
  ctx.out.result(results, opts.output ?? 'table', (rs) =>
    rs.length === 0
      ? 'No backups.'
      : renderTable(
          ['NAME', 'RESULT', 'FILE'],
          rs.map((r) => [r.name, r.ok ? (r.deep ? 'ok (deep)' : 'ok') : 'FAILED', r.file]),
        ),
  );
  return results;
}
