/**
 * A cross-region copy as postgres-agent sync runs it: copies verified backups (data, globals, then
 * the manifest last) from the backup volume to the configured object store, skipping objects
 * already there with the same sha256, then applies the optional remote retention over our own
 * backups only.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentConfig } from '../../core/config/schema.js';
import { OperationFailed, OpsError, UsageError, whileDoing } from '../../core/errors.js';
import { formatBytes, type Output, type OutputFormat } from '../../core/output.js';
import { parseManifest, type BackupManifest } from '../../core/backup/manifest.js';
import { backupFileNames, MANIFEST_SUFFIX } from '../../core/backup/names.js';
import { backupFiles, backupTimeMs } from '../../core/sync/manifest.js';
import { alreadyUploaded, planRemoteRetention, type RemoteBackup } from '../../core/sync/plan.js';
import { formatRemoteUrl, normalizePrefix, remoteKey } from '../../core/sync/url.js';
import { hashFile } from '../file-hash.js';
import type { ObjectStore } from '../objectstore/types.js';
import type { Logger } from '../log.js';
import { scanBackupDir, type CatalogScan } from '../backup/catalog.js';

export interface SyncOptions {
  dryRun?: boolean;
  output?: OutputFormat;
}

export interface SyncDeps {
  store: ObjectStore;
  log: Logger;
  out: Output;
  now: () => Date;
}

type ObjectAction = 'uploaded' | 'skipped' | 'would-upload';

export interface SyncResult {
  provider: string;
  bucket: string;
  prefix: string;
  dryRun: boolean;
  backups: {
    name: string;
    status: 'uploaded' | 'up-to-date' | 'would-upload' | 'failed';
    objects: { key: string; action: ObjectAction; sizeBytes: number }[];
    error?: string;
  }[];
  ignored: { file: string; reason: string }[];
  uploadedObjects: number;
  uploadedBytes: number;
  retention: {
    days: number;
    deleted: string[];
    wouldDelete: string[];
    kept: string[];
    skippedReason?: string;
  };
}

interface LocalBackup {
  manifest: BackupManifest;
  manifestFile: string;
}

/**
 * Our verified, intact backups on the backup volume, newest first (the backup catalog's scan);
 * everything else with a manifest name is listed as ignored, with why.
 */
export function scanLocalBackups(dir: string): {
  backups: LocalBackup[];
  ignored: { file: string; reason: string }[];
} {
  let scan: CatalogScan;
  try {
    scan = scanBackupDir(dir);
  } catch (err) {
    // The catalog reports a missing directory as its own E_BACKUP_DIR; any other failure is fs's.
    const reason =
      err instanceof UsageError && err.code === 'E_BACKUP_DIR'
        ? 'ENOENT'
        : ((err as NodeJS.ErrnoException).code ?? String(err));
    throw new UsageError(
      'E_BACKUP_DIR',
      `cannot read the backup directory ${dir}: ${reason}`,
      { dir },
      { hint: 'Check PGOPS_BACKUP_DIR and that the backup PVC is mounted in the sync CronJob.' },
    );
  }
  const manifestFile = (name: string) => backupFileNames(name).manifest;
  const ignored = [
    ...scan.foreign,
    ...scan.incomplete.map((i) => ({ file: manifestFile(i.name), reason: i.reason })),
    ...scan.damaged.map((d) => ({ file: manifestFile(d.manifest.name), reason: d.reason })),
    ...scan.backups
      .filter((b) => !b.manifest.verified)
      .map((b) => ({ file: manifestFile(b.manifest.name), reason: 'backup is not verified' })),
  ];
  const backups = scan.backups
    .filter((b) => b.manifest.verified)
    .map((b) => ({ manifest: b.manifest, manifestFile: manifestFile(b.manifest.name) }))
    .sort((a, b) => backupTimeMs(b.manifest) - backupTimeMs(a.manifest));
  return { backups, ignored };
}

function render(r: SyncResult): string {
  const lines: string[] = [];
  const dest = formatRemoteUrl({ provider: r.provider as 's3', bucket: r.bucket, key: r.prefix || '' });
  for (const b of r.backups) {
    const size = b.objects.reduce((n, o) => n + o.sizeBytes, 0);
    lines.push(
      `backup/${b.name} ${b.status} (${b.objects.length} objects, ${formatBytes(size)})${b.error ? `: ${b.error}` : ''}`,
    );
  }
  for (const i of r.ignored) lines.push(`ignored ${i.file}: ${i.reason}`);
  for (const d of r.retention.deleted)
    lines.push(`remote backup/${d} deleted (older than ${r.retention.days} days)`);
  for (const d of r.retention.wouldDelete)
    lines.push(`would delete remote backup/${d} (older than ${r.retention.days} days)`);
  lines.push(
    `${r.dryRun ? 'dry run: ' : ''}${r.uploadedObjects} object(s), ${formatBytes(r.uploadedBytes)} ${r.dryRun ? 'to upload' : 'uploaded'} to ${dest}`,
  );
  return lines.join('\n');
}

async function listRemoteBackups(store: ObjectStore, prefix: string, log: Logger): Promise<RemoteBackup[]> {
  const objects = await store.list(prefix);
  const keys = new Set(objects.map((o) => o.key));
  const tmp = mkdtempSync(join(tmpdir(), 'pgops-sync-'));
  try {
    const out: RemoteBackup[] = [];
    for (const o of objects) {
      if (!o.key.endsWith(MANIFEST_SUFFIX)) continue;
      const local = join(tmp, 'manifest.json');
      await store.get(o.key, local);
      const parsed = parseManifest(readFileSync(local, 'utf8'));
      if (!parsed.ok) {
        log.warn('remote object looks like a manifest but is not ours; leaving it alone', {
          key: o.key,
          reason: parsed.reason,
        });
        continue;
      }
      const dir = o.key.slice(0, o.key.lastIndexOf('/') + 1);
      const m = parsed.manifest;
      const dataKeys = [m.file, ...(m.globalsFile ? [m.globalsFile] : [])]
        .map((f) => `${dir}${f}`)
        .filter((k) => keys.has(k));
      out.push({ manifestKey: o.key, manifest: m, dataKeys });
    }
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export async function runSync(
  opts: SyncOptions,
  config: Pick<AgentConfig, 'sync' | 'backup'>,
  deps: SyncDeps,
): Promise<SyncResult> {
  const { store, log } = deps;
  const prefix = normalizePrefix(config.sync.prefix);
  const dir = config.backup.dir;
  const { backups, ignored } = scanLocalBackups(dir);
  const result: SyncResult = {
    provider: store.provider,
    bucket: store.bucket,
    prefix,
    dryRun: !!opts.dryRun,
    backups: [],
    ignored,
    uploadedObjects: 0,
    uploadedBytes: 0,
    retention: { days: config.sync.retentionDays, deleted: [], wouldDelete: [], kept: [] },
  };
  const failures: OpsError[] = [];

  for (const b of backups) {
    const entry: SyncResult['backups'][number] = { name: b.manifest.name, status: 'up-to-date', objects: [] };
    result.backups.push(entry);
    try {
      for (const f of backupFiles(b.manifest, b.manifestFile)) {
        const path = join(dir, f.file);
        const key = remoteKey(prefix, f.file);
        if (!existsSync(path)) {
          if (f.role === 'globals') continue; // older backups may have none
          throw new OperationFailed(
            'E_BACKUP_FILE_MISSING',
            `backup ${b.manifest.name}: ${path} is missing`,
            { file: path },
          );
        }
        const size = statSync(path).size;
        // The manifest's own checksum is computed; data files carry theirs in the manifest.
        const wantSha = f.sha256 ?? (await hashFile(path)).sha256;
        const head = await store.head(key);
        if (alreadyUploaded(head, { sha256: wantSha, size })) {
          entry.objects.push({ key, action: 'skipped', sizeBytes: size });
          continue;
        }
        if (opts.dryRun) {
          entry.objects.push({ key, action: 'would-upload', sizeBytes: size });
          entry.status = 'would-upload';
          result.uploadedObjects++;
          result.uploadedBytes += size;
          continue;
        }
        const local = await hashFile(path, { md5: true });
        if (local.sha256 !== wantSha)
          throw new OperationFailed(
            'E_LOCAL_CHECKSUM',
            `backup ${b.manifest.name}: ${path} does not match the sha256 in its manifest; it was not uploaded`,
            { file: path },
            { hint: `The local copy is damaged. Check it with: postgres-agent verify ${b.manifest.name}` },
          );
        log.info('uploading', { key, sizeBytes: size, provider: store.provider, bucket: store.bucket });
        await store.put(key, path, { sha256: local.sha256, md5: local.md5 });
        entry.objects.push({ key, action: 'uploaded', sizeBytes: size });
        entry.status = 'uploaded';
        result.uploadedObjects++;
        result.uploadedBytes += size;
      }
    } catch (err) {
      const e = err instanceof OpsError ? err : whileDoing(`copying backup ${b.manifest.name}`, err);
      entry.status = 'failed';
      entry.error = e.message;
      failures.push(e);
      log.error('backup copy failed', { backup: b.manifest.name, error: e.message });
      // Wrong credentials or a missing bucket fail every object alike: stop at the first.
      if (e.code === 'E_STORE_AUTH' || e.code === 'E_STORE_NOT_FOUND') break;
    }
  }

  if (config.sync.retentionDays > 0) {
    if (failures.length > 0) result.retention.skippedReason = 'skipped because copying failed';
    else {
      const remote = await listRemoteBackups(store, prefix, log);
      const plan = planRemoteRetention(remote, {
        retentionDays: config.sync.retentionDays,
        now: deps.now(),
      });
      result.retention.kept = plan.keep;
      for (const d of plan.delete) {
        if (opts.dryRun) {
          result.retention.wouldDelete.push(d.name);
          continue;
        }
        for (const key of d.keys) await store.delete(key); // manifest first
        result.retention.deleted.push(d.name);
        log.info('remote backup deleted', { backup: d.name, takenAt: d.takenAt });
      }
    }
  }

  deps.out.result(result, opts.output ?? 'table', render);
  if (failures.length === 1) throw failures[0]!;
  if (failures.length > 1)
    throw new OperationFailed(
      'E_SYNC_FAILED',
      `${failures.length} backups could not be copied:\n${failures.map((f) => f.message).join('\n')}`,
      { failed: failures.length },
      { hint: failures[0]!.hint ?? 'Run the sync again after fixing the first error.' },
    );
  return result;
}
