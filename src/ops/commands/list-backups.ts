import type { PhysicalListEntry } from '../../core/pitr/info.js';
import { formatBytes, renderTable } from '../../core/output.js';
import type { BackupEntry } from '../../core/cluster/cluster-api.js';
import type { OpsDeps } from '../deps.js';
import type { ArgsOf, OptionsOf } from '../program.js';
import { renderBackups } from '../render/backups.js';

export type ListedBackup = (BackupEntry & { kind: 'logical' }) | PhysicalListEntry;

/**
 * Complete backups, newest first; a failed or interrupted one is never listed. Logical dumps and,
 * with point-in-time recovery, pgBackRest's physical backups (`kind` tells them apart).
 */
export async function listBackups(
  _args: ArgsOf<'list-backups'>,
  _options: OptionsOf<'list-backups'>,
  deps: OpsDeps,
): Promise<ListedBackup[]> {
  const [logical, physical] = await Promise.all([
    deps.cluster.listBackups(),
    deps.cluster.physicalInfo
      ? deps.cluster.physicalInfo().catch((err: Error) => {
          deps.out.line(`could not list the physical backups: ${err.message}`);
          return null;
        })
      : Promise.resolve(null),
  ]);
  const list: ListedBackup[] = [
    ...logical.map((b) => ({ ...b, kind: 'logical' as const })),
    ...(physical?.backups ?? []),
  ].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  deps.out.result(list, deps.opts.output, (l) => {
    const phys = l.filter((b): b is PhysicalListEntry => b.kind === 'physical');
    const text = renderBackups(l.filter((b) => b.kind === 'logical'));
    if (!physical) return text;
    return [
      text,
      '',
      `Physical backups (pgBackRest; recoverable from ${physical.windowStart ?? '-'} to the last archived WAL):`,
      phys.length
        ? renderTable(
            ['LABEL', 'TYPE', 'REPO', 'STOPPED', 'SIZE', 'LSN', 'TIMELINE'],
            phys.map((b) => [
              b.name + (b.annotation ? ` (${b.annotation})` : ''),
              b.type,
              b.repo,
              b.createdAt,
              formatBytes(b.sizeBytes),
              `${b.startLsn}-${b.stopLsn}`,
              String(b.timeline),
            ]),
          )
        : '  none yet. Take one: postgres-ops backup --physical --type full',
    ].join('\n');
  });
  return list;
}
