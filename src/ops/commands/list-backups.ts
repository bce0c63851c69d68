import type { BackupEntry } from '../cluster-api.js';
import type { OpsDeps } from '../deps.js';
import { renderBackups } from '../render/backups.js';

/** Complete backups, newest first; a failed or interrupted one is never listed. */
export async function listBackups(deps: OpsDeps): Promise<BackupEntry[]> {
  const list = await deps.cluster.listBackups();
  deps.out.result(list, deps.opts.output, renderBackups);
  return list;
}
