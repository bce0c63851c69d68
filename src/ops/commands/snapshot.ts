import { formatBytes, renderTable } from '../../core/output.js';
import { validateSnapshotName } from '../../core/snapshot/naming.js';
import type { SnapshotEntry } from '../../core/cluster/cluster-api.js';
import type { OpsDeps } from '../deps.js';
import { reportDryRun } from '../dry-run.js';
import type { ArgsOf, OptionsOf } from '../program.js';

export function renderSnapshots(list: SnapshotEntry[]): string {
  if (list.length === 0) return 'No snapshots yet. Take one: postgres-ops snapshot NAME';
  return renderTable(
    ['NAME', 'CREATED', 'READY', 'SIZE', 'SOURCE'],
    list.map((s) => [
      s.name,
      s.createdAt,
      s.readyToUse ? 'yes' : 'no',
      s.sizeBytes == null ? null : formatBytes(s.sizeBytes),
      s.source,
    ]),
  );
}

/** On Kubernetes a VolumeSnapshot of the primary's data PVC; locally a pg_basebackup copy. */
export async function snapshot([name]: ArgsOf<'snapshot'>, options: OptionsOf<'snapshot'>, deps: OpsDeps) {
  if (name !== undefined) validateSnapshotName(name);
  if (options.dryRun)
    return reportDryRun(
      deps,
      `take snapshot ${name ?? '(named by the date)'} of the primary's data volume of release ${deps.cluster.release} (${deps.cluster.mode})`,
      { name: name ?? null },
    );
  deps.out.line(`taking snapshot${name ? ` ${name}` : ''}…`);
  const snap = await deps.cluster.snapshot(name, deps.out);
  deps.out.result(snap ?? null, deps.opts.output, (s) => (s ? renderSnapshots([s]) : 'snapshot taken'));
  return snap;
}

export async function listSnapshots(
  _args: ArgsOf<'list-snapshots'>,
  _options: OptionsOf<'list-snapshots'>,
  deps: OpsDeps,
) {
  const list = await deps.cluster.listSnapshots();
  deps.out.result(list, deps.opts.output, renderSnapshots);
  return list;
}
