/** `status` as a screen: members, storage, last backup and snapshot, warnings highlighted. */
import { formatBytes, formatDuration, renderTable } from '../../core/output.js';
import { runningLine, type StatusReport } from '../../core/cluster/status-model.js';
import type { PitrStatus } from '../pitr-status.js';

const paint = (on: boolean, code: string, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

export function renderStatus(r: StatusReport & Partial<PitrStatus>, color = false): string {
  const lines: string[] = [];
  lines.push(
    `PostgreSQL of release ${r.release} — ${r.mode === 'local' ? 'local mode (processes on this machine)' : `Kubernetes, namespace ${r.namespace}`}`,
    '',
  );
  lines.push(
    renderTable(
      ['NAME', 'ROLE', 'STATE', 'READY', 'RESTARTS', 'TIMELINE', 'LAG'],
      r.instances.map((i) => [
        i.name,
        i.role + (i.synchronousStandby ? ' (sync)' : ''),
        i.state + (i.pendingRestart ? ', restart pending' : ''),
        i.ready ? 'yes' : paint(color, '31', i.running ? 'no' : 'stopped'),
        i.restarts,
        i.timeline,
        i.role === 'primary'
          ? '-'
          : i.lagBytes === null
            ? '?'
            : `${formatBytes(i.lagBytes)} / ${i.lagSeconds === null ? '?' : formatDuration(i.lagSeconds)}`,
      ]),
    ),
  );
  if (r.storage.length) {
    lines.push('');
    lines.push(
      renderTable(
        ['VOLUME', 'MEMBER', 'DATA', 'USED', 'CAPACITY', 'USE%'],
        r.storage.map((v) => [
          v.name,
          v.member,
          v.dataBytes == null ? null : formatBytes(v.dataBytes),
          v.usedBytes === null ? null : formatBytes(v.usedBytes),
          v.capacityBytes === null ? null : formatBytes(v.capacityBytes),
          v.usedPercent === null ? null : `${v.usedPercent}%`,
        ]),
      ),
    );
  }
  lines.push('');
  lines.push(
    `Failover:      ${r.failover ?? 'unknown (Patroni did not answer)'}` +
      `   Synchronous: ${r.synchronous === null ? 'unknown' : r.synchronous ? `on (${r.synchronousStandby.join(', ') || 'no standby now'})` : 'off'}`,
  );
  const b = r.lastBackup;
  lines.push(
    `Last backup:   ${
      b
        ? `${b.name}  ${formatDuration(b.ageSeconds)} ago  ${formatBytes(b.sizeBytes)}  ${b.verified ? 'verified' : paint(color, '33', 'NOT verified')}`
        : 'none'
    }`,
  );
  const s = r.lastSnapshot;
  lines.push(
    `Last snapshot: ${s ? `${s.name}  ${s.ageSeconds === null ? '' : `${formatDuration(s.ageSeconds)} ago  `}${s.readyToUse ? 'ready' : 'not ready'}` : 'none'}`,
  );
  if (r.operation) lines.push(`Running:       ${runningLine(r.operation)}`);
  if (r.archive !== undefined)
    lines.push(
      `Recoverable:   ${
        r.recoverability
          ? `from ${r.recoverability.earliest ?? 'no physical backup yet'} to ${r.recoverability.latest ?? 'nothing archived yet'}`
          : 'no WAL archive (point-in-time recovery is off)'
      }`,
      ...(r.archive
        ? [
            `Archive:       last archived ${r.archive.lastArchivedAt ?? 'never'}${r.archive.lastFailedAt ? `, last failure ${r.archive.lastFailedAt} (${r.archive.failedCount} failures)` : ''}${r.archive.readyCount ? `, ${r.archive.readyCount} segments waiting` : ''}`,
          ]
        : []),
    );
  const primary = r.instances.find((i) => i.role === 'primary' && i.ready);
  if (primary) lines.push(`Connect:       psql "${primary.appUri ?? primary.uri}"`);
  if (r.databases)
    lines.push(
      `Backups cover: ${r.databases.backedUp.join(', ')}${r.databases.backedUp.includes(r.databases.application) ? '' : ` (not the application database ${r.databases.application})`}`,
    );
  lines.push('');
  if (r.warnings.length === 0) lines.push(paint(color, '32', 'No warnings.'));
  else {
    lines.push(paint(color, '1', `WARNINGS (${r.warnings.length})`));
    for (const w of r.warnings) lines.push(paint(color, w.startsWith('CRITICAL') ? '31' : '33', `  ! ${w}`));
  }
  return lines.join('\n');
}
