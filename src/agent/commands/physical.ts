/**
 * postgres-agent physical-backup | physical-info: pgBackRest backups, run where the repository is a
 * folder on this machine (local mode; the repository pod on Kubernetes). `-o json` is an interface.
 */
import type { OutputFormat } from '../../core/output.js';
import type { PhysicalType } from '../../core/pitr/info.js';
import {
  renderPhysicalBackup,
  renderPhysicalInfo,
  type PhysicalBackupResult,
  type PhysicalInfo,
} from '../../core/pitr/results.js';
import { requirePitr } from '../../runtime/pitr/config.js';
import {
  physicalBackup as runPhysical,
  physicalInfo as readPhysicalInfo,
} from '../../runtime/pitr/physical.js';
import type { AgentContext } from '../context.js';

export async function physicalBackup(
  opts: { type?: PhysicalType; name?: string; output?: OutputFormat },
  ctx: AgentContext,
): Promise<PhysicalBackupResult> {
  requirePitr(ctx.config, 'a physical backup');
  const type = opts.type ?? 'full';
  const result = await runPhysical({ type, name: opts.name }, ctx);
  ctx.out.result(result, opts.output ?? 'table', renderPhysicalBackup);
  return result;
}

export async function physicalInfo(
  opts: { output?: OutputFormat },
  ctx: AgentContext,
): Promise<PhysicalInfo> {
  requirePitr(ctx.config, 'listing physical backups');
  const result = await readPhysicalInfo(ctx);
  ctx.out.result(result, opts.output ?? 'table', renderPhysicalInfo);
  return result;
}
