import { OperationFailed, UsageError } from '../../core/errors.js';
import { withDatabase } from '../../core/pg/conninfo.js';
import type { DatabaseScope } from '../../core/cluster/cluster-api.js';
import type { OpsDeps } from '../deps.js';
import type { ArgsOf, OptionsOf } from '../program.js';

const DATABASES_SQL =
  'SELECT datname AS name FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname';

/** "backups cover database pyairtable" / "backups cover databases a, b". */
export function backupCoverage(scope: DatabaseScope): string {
  return `backups cover ${scope.backedUp.length === 1 ? 'database' : 'databases'} ${scope.backedUp.join(', ')}`;
}

/**
 * Interactive psql on the primary (or a replica with --replica), the terminal passed through, in
 * the application database: the one backups cover, so what a person creates there is restorable.
 */
export async function connect(
  _args: ArgsOf<'connect'>,
  flags: OptionsOf<'connect'>,
  deps: OpsDeps,
): Promise<void> {
  const members = (await deps.cluster.members()).filter((m) => m.running);
  const wanted = typeof flags.replica === 'string' ? flags.replica : undefined;
  const m = wanted
    ? members.find((x) => x.name === wanted)
    : members.find((x) => x.expectedRole === (flags.replica ? 'replica' : 'primary'));
  if (!m)
    throw new OperationFailed(
      'E_NO_TARGET',
      `no running ${wanted ?? (flags.replica ? 'replica' : 'primary')} to connect to`,
      {},
      { hint: 'See the members: postgres-ops status' },
    );
  const scope = await deps.cluster.databases();
  const database = flags.database ?? scope.application;
  if (flags.database !== undefined) {
    const existing = (await deps.cluster.query(m.name, DATABASES_SQL)).map((r) => String(r.name));
    if (!existing.includes(database))
      throw new UsageError(
        'E_NO_SUCH_DATABASE',
        `there is no database "${database}" on ${m.name}`,
        { database },
        {
          hint: `Databases: ${existing.join(', ')}. Without --database, connect opens ${scope.application}.`,
        },
      );
  }
  // On stderr whatever the format: psql takes the terminal next.
  deps.out.stderr.write(`connecting to ${m.name}, database ${database} (${withDatabase(m.uri, database)})\n`);
  deps.out.stderr.write(
    scope.backedUp.includes(database)
      ? `${backupCoverage(scope)}\n`
      : `note: ${database} is not backed up (${backupCoverage(scope)}): what you create here is not in any backup\n`,
  );
  const code = await deps.cluster.connect(m, database);
  if (code !== 0) throw new OperationFailed('E_PSQL', `psql exited with code ${code}`, { exitCode: code });
}
