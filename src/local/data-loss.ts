/**
 * Local mode after the data directories were lost (deleted, a disk replaced) while the state folder
 * remains: the agent would initialise an EMPTY primary, and the backups and snapshots of the lost
 * one would sit unused. `status` says so and names the restore commands; `local up` refuses to
 * start an empty cluster over a lost one unless asked to with --fresh.
 */
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { SafetyRefusal } from '../core/errors.js';
import type { Output } from '../core/output.js';
import type { DataLoss } from '../core/cluster/cluster-api.js';
import { listBackups } from '../runtime/backup/catalog.js';
import { ensureEtcd, forgetCluster } from './etcd.js';
import { scopeOfState } from './members.js';
import { listLocalSnapshots } from './snapshots.js';
import { readState, stateExists, StatePaths } from './state.js';

/** A data directory that holds a database (PG_VERSION is the first thing initdb and a clone write). */
function holdsDatabase(dir: string): boolean {
  return existsSync(join(dir, 'PG_VERSION'));
}

/** The primary's data directory holds no database any more, or null. */
export function findLocalDataLoss(root: string): DataLoss | null {
  if (!stateExists(root)) return null;
  const state = readState(root);
  const paths = new StatePaths(root);
  const primaryDir = paths.dataDir(state.primary);
  if (holdsDatabase(primaryDir)) return null;
  const intactMembers = state.instances
    .filter((i) => i.name !== state.primary && holdsDatabase(paths.dataDir(i.name)))
    .map((i) => i.name);
  return { members: [state.primary], dirs: [primaryDir], intactMembers };
}

/** What the lost cluster left to restore from: the newest intact backup and the newest snapshot. */
export function restorableCopies(root: string): { backup: string | null; snapshot: string | null } {
  const paths = new StatePaths(root);
  let backup: string | null = null;
  try {
    const intact = listBackups(paths.backupsDir).filter((b) => !b.damaged);
    backup = (intact.find((b) => b.verified) ?? intact[0])?.name ?? null;
  } catch {
    backup = null;
  }
  const snapshot = listLocalSnapshots(root)[0]?.name ?? null;
  return { backup, snapshot };
}

/**
 * Before `local up`: a cluster whose data is gone is not silently replaced by an empty one. With
 * backups or snapshots to restore, refuse (exit 3) naming the restore commands, unless `fresh`;
 * with --fresh, what is left of the old data directories is moved aside (never deleted).
 */
export async function guardLostCluster(
  root: string,
  opts: { fresh: boolean; command: (verb: string) => string },
  out: Output,
): Promise<void> {
  const loss = findLocalDataLoss(root);
  if (!loss) return;
  const paths = new StatePaths(root);
  const state = readState(root);
  const { backup, snapshot } = restorableCopies(root);
  const gone = `the data of ${loss.members.join(', ')} is gone (${loss.dirs.join(', ')} holds no database)`;
  if (!opts.fresh && (backup || snapshot)) {
    const ways = [
      ...(backup
        ? [
            `the newest backup: ${opts.command('local up')} --fresh && ${opts.command('restore')} ${backup} --yes`,
          ]
        : []),
      ...(snapshot ? [`the newest snapshot: ${opts.command('restore')} --snapshot ${snapshot} --yes`] : []),
    ];
    throw new SafetyRefusal(
      'E_DATA_LOST',
      `${gone}; starting now would create an EMPTY cluster in its place, so nothing was started`,
      { members: loss.members, backup, snapshot },
      { hint: `Restore ${ways.join(', or ')}.` },
    );
  }
  out.line(
    `${gone}: starting an empty cluster${opts.fresh ? ' (--fresh)' : ' (there is no backup or snapshot to restore)'}`,
  );
  // Directories of the lost cluster's other members would not follow the new primary: moved aside.
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  for (const i of state.instances) {
    const dir = paths.dataDir(i.name);
    if (!existsSync(dir) || (!holdsDatabase(dir) && readdirSync(dir).length === 0)) continue;
    const aside = `${dir}.before-fresh-${stamp}`;
    renameSync(dir, aside);
    out.line(`${i.name}: data of the lost cluster kept in ${aside} (delete it when satisfied)`);
  }
  // Patroni keeps the lost cluster's identifier in etcd and would wait for its leader forever.
  await ensureEtcd(root, state, out);
  await forgetCluster(state, scopeOfState(state));
}
