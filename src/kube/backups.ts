/**
 * Backups of a release: listed and verified where they are (a Job on the backup volume), taken by
 * the backup CronJob's Job, restored by a Job made from the backup (or, for a URL, the sync)
 * CronJob's template.
 */
import type * as k8s from '@kubernetes/client-node';
import { z } from 'zod';
import { databaseScope } from '../core/backup/databases.js';
import { backupListEntrySchema } from '../core/backup/manifest.js';
import { verifyResultSchema } from '../core/backup/results.js';
import { agentBackupArgs, agentRestoreArgs, agentVerifyArgs } from '../core/cluster/agent-args.js';
import type {
  BackupEntry,
  BackupRequest,
  DatabaseScope,
  RestoreRequest,
} from '../core/cluster/cluster-api.js';
import { loadAgentConfig } from '../core/config/load.js';
import { UsageError } from '../core/errors.js';
import { isUrl } from '../core/sync/url.js';
import type { Output } from '../core/output.js';
import { agentContainer, follow, only, readOnBackupVolume, requireCronJob, runNow } from './agent-jobs.js';
import type { KubeRelease } from './release.js';

export const BACKUP_DIR = '/backups/postgres';

/**
 * From the backup CronJob's settings (where the chart puts what backups cover), else the members'
 * StatefulSet (the application database).
 */
export async function backupDatabases(rel: KubeRelease): Promise<DatabaseScope> {
  const env: Record<string, string> = {};
  const collect = (containers: k8s.V1Container[] | undefined) => {
    for (const c of containers ?? [])
      for (const e of c.env ?? [])
        if (e.value !== undefined && /^PGOPS_(APP|BACKUP)_DATABASES?$/.test(e.name)) env[e.name] ??= e.value;
  };
  const cj = await rel.jobs.readCronJob(`${rel.fullname}-backup`).catch(() => undefined);
  collect(cj?.spec?.jobTemplate.spec?.template.spec?.containers);
  if (!env.PGOPS_APP_DATABASE) {
    const sts = await rel.api(`reading StatefulSet ${rel.fullname}`, () =>
      rel.k.apps.readNamespacedStatefulSet({ name: rel.fullname, namespace: rel.namespace }),
    );
    collect(sts.spec?.template.spec?.containers);
  }
  return databaseScope(loadAgentConfig(env));
}

/** Backups as the agent lists them on the backup volume. */
export async function listBackupsOnVolume(rel: KubeRelease): Promise<BackupEntry[]> {
  return readOnBackupVolume(rel, ['list-backups'], 'listing backups', z.array(backupListEntrySchema));
}

export async function verifyOnVolume(
  rel: KubeRelease,
  file: string | undefined,
  opts: { deep?: boolean; all?: boolean },
) {
  return readOnBackupVolume(
    rel,
    agentVerifyArgs(file, opts),
    'verifying backups',
    z.array(verifyResultSchema),
  );
}

export async function runBackupJob(
  rel: KubeRelease,
  name: string | undefined,
  out: Output,
  req: BackupRequest = {},
): Promise<void> {
  const args = agentBackupArgs(name, req).slice(1);
  await runNow(rel, 'backup', name, args, 'databases.postgres.backup.enabled=true', out);
}

/**
 * A restore Job. A file on the backup volume: from the backup CronJob's template (the volume, the
 * Secret, the read-write Service). A URL: from the sync CronJob's template, which also has the
 * object store's settings, credentials and cloud identity; the backup volume is made writable for
 * the safety backup.
 */
export async function runRestoreJob(rel: KubeRelease, req: RestoreRequest, out: Output) {
  const url = isUrl(req.file);
  if (!req.file.startsWith('/') && !url)
    throw new UsageError(
      'E_NOT_IN_CLUSTER',
      `${req.file} is not on the backup volume`,
      {},
      {
        hint: `Copy it onto the backup volume first (docs/operations.md, "Copy files to or from the backup volume"), or give a gs://, s3:// or azure:// URL.`,
      },
    );
  const cronJob = url ? `${rel.fullname}-sync` : `${rel.fullname}-backup`;
  const cj = url
    ? await rel.jobs.readCronJob(cronJob)
    : await requireCronJob(rel, cronJob, 'databases.postgres.backup.enabled=true');
  if (!cj)
    throw new UsageError(
      'E_NO_OBJECT_STORE',
      `restoring ${req.file} needs the object store's settings and credentials, and release ${rel.release} has no cross-region copies (CronJob ${cronJob}); nothing was changed`,
      { file: req.file },
      {
        hint: 'Enable them (databases.postgres.crossRegion.enabled=true with provider, bucket and credentialsSecret) and helm upgrade, or copy the file onto the backup volume.',
      },
    );
  const job = await rel.jobs.create(cj, 'restore', (spec) => {
    const agent = agentContainer(cronJob, spec, url ? 'sync' : 'backup');
    const restore = only(spec, agent, 'restore', agentRestoreArgs(req));
    // The safety backup is written next to the others.
    restore.volumeMounts = (restore.volumeMounts ?? []).map((m) =>
      m.name === 'backups' ? { ...m, readOnly: false } : m,
    );
    return restore;
  });
  out.line(`job.batch/${job.name} created`);
  await follow(rel, job.name, job.container, out);
  return { job: job.name };
}
