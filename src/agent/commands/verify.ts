/**
 * postgres-agent verify [FILE|NAME|--all] [--deep]: checksum and archive check (default: the newest
 * backup); --deep restores into a scratch database and compares row counts. Exit 1 names each
 * failed file.
 */
import type { OutputFormat } from '../../core/output.js';
import { renderTable } from '../../core/output.js';
import { connectionFromConfig, verifyBackup, type VerifyResult } from '../../runtime/backup/index.js';
import type { AgentContext } from '../context.js';

export async function verify(
  file: string | undefined,
  opts: { all?: boolean; deep?: boolean; output?: OutputFormat },
  ctx: AgentContext,
): Promise<VerifyResult[]> {
  const config = ctx.config;
  const results = await verifyBackup(
    {
      backupDir: config.backup.dir,
      target: file,
      all: !!opts.all,
      deep: !!opts.deep,
      conn: opts.deep ? connectionFromConfig(config) : undefined,
      jobs: config.restore.jobs,
      binDir: config.instance.binDir,
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
