/**
 * Physical backups as postgres-agent runs them: pgBackRest into every repository on this machine
 * (local mode; the repository pod on Kubernetes), and the backups and window pgBackRest knows of.
 */
import { UsageError } from '../../core/errors.js';
import {
  earliestRecoverable,
  physicalEntries,
  windowStart,
  type PhysicalType,
} from '../../core/pitr/info.js';
import type { PhysicalBackupResult, PhysicalInfo } from '../../core/pitr/results.js';
import { connectionFromConfig } from '../backup/conn.js';
import { runPhysicalBackup } from './backup.js';
import { configuredRepos, jobRunner, localRepos, repoLocations, type PitrJobContext } from './config.js';
import { pgbackrestInfoEach } from './pgbackrest.js';

/** A backup of `type` into every repository on this machine, then retention; refused where none is. */
export async function physicalBackup(
  req: { type: PhysicalType; name?: string },
  ctx: PitrJobContext,
): Promise<PhysicalBackupResult> {
  const repos = localRepos(ctx.config);
  if (repos.length === 0)
    throw new UsageError(
      'E_NO_REPOSITORY',
      'no repository is on this machine: pgBackRest 2.45 backs up only where a repository is local',
      {},
      {
        hint: 'On Kubernetes backups run in the repository pod: postgres-ops backup --physical does that for you.',
      },
    );
  const { runner, dispose } = jobRunner(ctx.config, ctx.rawEnv);
  try {
    return await runPhysicalBackup(
      { type: req.type, name: req.name, repos },
      runner,
      connectionFromConfig(ctx.config),
      ctx.log,
    );
  } finally {
    dispose();
  }
}

/** pgBackRest's backups in every configured repository, and the recoverability window. */
export async function physicalInfo(ctx: Omit<PitrJobContext, 'log'>): Promise<PhysicalInfo> {
  const { runner, dispose } = jobRunner(ctx.config, ctx.rawEnv);
  try {
    const info = await pgbackrestInfoEach(runner, configuredRepos(ctx.config));
    return {
      stanza: info.stanza,
      status: { code: info.code, message: info.message },
      repos: info.repos,
      backups: physicalEntries(info, repoLocations(ctx.config, ctx.rawEnv)),
      earliest: earliestRecoverable(info),
      windowStart: windowStart(info),
    };
  } finally {
    dispose();
  }
}
