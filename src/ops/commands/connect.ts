import { OperationFailed } from '../../core/errors.js';
import type { OpsDeps } from '../deps.js';

/** Interactive psql on the primary (or a replica with --replica), the terminal passed through. */
export async function connect(flags: { replica?: boolean | string }, deps: OpsDeps): Promise<void> {
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
  process.stderr.write(`connecting to ${m.name} (${m.uri})\n`);
  const code = await deps.cluster.connect(m);
  if (code !== 0) throw new OperationFailed('E_PSQL', `psql exited with code ${code}`, { exitCode: code });
}
