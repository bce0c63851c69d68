/**
 * postgres-ops: what a person runs against a release, on Kubernetes or in local mode.
 */
import { Command } from 'commander';

export function buildOpsProgram(): Command {
  const program = new Command('postgres-ops')
    .description(
      'Operate the pyairtable-stack PostgreSQL: status, backups, restores, snapshots, promotion, local mode.',
    )
    .option('--debug', 'print stack traces')
    .showHelpAfterError();
  return program;
}
