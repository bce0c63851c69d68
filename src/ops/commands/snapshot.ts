import { formatBytes, renderTable } from '../../core/output.js';
import { UsageError } from '../../core/errors.js';
import type { SnapshotEntry } from '../cluster-api.js';
import type { OpsDeps } from '../deps.js';

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
export async function snapshot(name: string | undefined, deps: OpsDeps) {
  if (name !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/.test(name))
    throw new UsageError(
      'E_BAD_NAME',
      `"${name}" is not a valid snapshot name`,
      { name },
      {
        hint: 'Use lowercase letters, digits and "-" (a Kubernetes object name), e.g. emergency-snapshot.',
      },
    );
  deps.out.line(`taking snapshot${name ? ` ${name}` : ''}…`);
  const snap = await deps.cluster.snapshot(name, deps.out);
  deps.out.result(snap ?? null, deps.opts.output, (s) => (s ? renderSnapshots([s]) : 'snapshot taken'));
  return snap;
}

export async function listSnapshots(deps: OpsDeps) {
  const list = await deps.cluster.listSnapshots();
  deps.out.result(list, deps.opts.output, renderSnapshots);
  return list;
}
