/**
 * The backup taken before a migration changes anything: `postgres-agent backup --name …` run as a
 * child process with the same environment, so it is the very same backup (verified, checksummed,
 * listed) an operator restores with the documented commands.
 */
import { stderrTerminal } from '../output-host.js';
import { OperationFailed } from '../../core/errors.js';
import type { Logger } from '../log.js';
import { AgentStderrRelay } from '../agent-stderr.js';
import { exec } from '../exec.js';

/** pre-migration-<version>-<YYYYMMDD_HHMMSS> (UTC). */
export function safetyBackupName(version: string, now: Date): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  return `pre-migration-${version}-${ts}`;
}

export async function takeSafetyBackup(name: string, version: string, log: Logger): Promise<void> {
  const entry = process.argv[1];
  if (!entry) throw new OperationFailed('E_SAFETY_BACKUP', 'cannot find the postgres-agent entry point');
  log.info('taking safety backup before migrating', { backup: name, version });
  const started = Date.now();
  // The child's own log lines pass straight through, so `kubectl logs` shows the backup's progress;
  // its closing error block is held back, since the error below carries it.
  const relay = new AgentStderrRelay((chunk) => stderrTerminal.write(chunk));
  const r = await exec(process.execPath, [entry, 'backup', '--name', name], {
    env: process.env,
    onStderr: (chunk) => relay.push(chunk),
  });
  const childError = relay.end(r.code === 0);
  if (r.code !== 0) {
    const why =
      childError?.message ??
      (r.stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ') || `exit ${r.code ?? r.signal}`);
    throw new OperationFailed(
      'E_SAFETY_BACKUP',
      `safety backup ${name} failed, so migration ${version} was not applied: ${why}`,
      { version, backup: name, exitCode: r.code ?? -1 },
      {
        hint:
          'Fix the backup (run `postgres-agent backup` to see why) and run the migration again, or migrate without a safety backup: ' +
          '--set databases.postgres.migration.safetyBackup=false (PGOPS_MIGRATION_SAFETY_BACKUP=false).',
      },
    );
  }
  log.info('safety backup taken', { backup: name, durationMs: Date.now() - started });
}
