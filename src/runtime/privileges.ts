/**
 * Local mode started as root: the agent is launched as root (so it can load its own code from a
 * checkout the postgres OS user cannot read, such as one under /root) and switches to the postgres
 * user before it touches a data directory. Everything it needs is loaded by then.
 */
import { OperationFailed } from '../core/errors.js';
import { osUserIds } from './os-user.js';

export function switchToUser(user: string): void {
  if (process.getuid?.() !== 0) return;
  const ids = osUserIds(user);
  if (!ids)
    throw new OperationFailed(
      'E_NO_OS_USER',
      `cannot switch to OS user "${user}": no such user`,
      { user },
      {
        hint: 'Install the PostgreSQL server packages, which create the postgres user: bash scripts/install-system-deps.sh',
      },
    );
  const { uid, gid } = ids;
  // Supplementary groups of the user (e.g. ssl-cert), as a login would have them.
  (process as { initgroups?: (user: string, group: number) => void }).initgroups?.(user, gid);
  process.setgid?.(gid);
  process.setuid?.(uid);
  if (process.getuid?.() !== uid) {
    throw new OperationFailed('E_SWITCH_USER', `could not switch to OS user "${user}"`, { user });
  }
}
