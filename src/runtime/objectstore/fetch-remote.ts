/**
 * Downloads a remote backup for `restore`: the manifest first (by name convention next to the
 * data file), then the data and globals files, each checked against the manifest's sha256. A
 * mismatch is refused (exit 3): restoring a corrupt copy could replace good data with bad.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfig } from '../../core/config/schema.js';
import { SafetyRefusal, UsageError } from '../../core/errors.js';
import { parseManifest, type BackupManifest } from '../../core/backup/manifest.js';
import { backupFileNames } from '../../core/backup/names.js';
import {
  backupNameOfKey,
  formatRemoteUrl,
  resolveRemoteBackup,
  type RemoteRef,
} from '../../core/sync/url.js';
import type { Logger } from '../log.js';
import { hashFile } from '../file-hash.js';
import { openObjectStore, storeConfigFrom, type ReliableOptions } from './index.js';
import type { ObjectStore } from './types.js';

export interface FetchedBackup {
  /** Local path of the backup (data) file. */
  file: string;
  manifestFile?: string;
  globalsFile?: string;
  manifest?: BackupManifest;
  /** True when every file was checked against a manifest of ours. */
  verified: boolean;
  source: string;
  cleanup(): void;
}

export interface FetchRemoteOptions {
  /** The object store settings (config.sync) and the agent's mode, for hints. */
  config: Pick<AgentConfig, 'sync' | 'agent'>;
  rawEnv?: NodeJS.ProcessEnv;
  log: Logger;
  /** Parent directory for the download (on the backup volume, not in memory). */
  tmpDir: string;
  /** For tests: a store to use instead of opening one from the configuration. */
  store?: ObjectStore;
  reliable?: ReliableOptions;
}

async function download(store: ObjectStore, ref: RemoteRef, key: string, file: string, want?: string) {
  await store.get(key, file);
  if (want === undefined) return;
  const got = (await hashFile(file)).sha256;
  if (got !== want) {
    throw new SafetyRefusal(
      'E_REMOTE_CHECKSUM',
      `refusing to use ${formatRemoteUrl({ ...ref, key })}: its sha256 ${got} does not match the manifest's ${want}`,
      { provider: ref.provider, bucket: ref.bucket, key },
      {
        hint: 'The remote copy is corrupt or was changed. Restore another backup (list them in the bucket), or copy this one again from the source cluster.',
      },
    );
  }
}

export async function fetchRemoteBackup(urlOrName: string, opts: FetchRemoteOptions): Promise<FetchedBackup> {
  const config = opts.config;
  const ref = resolveRemoteBackup(urlOrName, {
    provider: config.sync.provider,
    bucket: config.sync.bucket,
    prefix: config.sync.prefix,
  });
  if (!ref)
    throw new UsageError(
      'E_REMOTE_URL',
      `"${urlOrName}" is neither a backup URL nor a backup name in a configured object store`,
      { arg: urlOrName },
      {
        hint: 'Use s3://BUCKET/KEY, gs://BUCKET/KEY or azure://CONTAINER/KEY, or set PGOPS_SYNC_PROVIDER and PGOPS_SYNC_BUCKET.',
      },
    );
  const store =
    opts.store ??
    (await openObjectStore(storeConfigFrom(config, opts.rawEnv ?? process.env, ref), {
      log: opts.log,
      ...opts.reliable,
    }));
  const dir = mkdtempSync(join(opts.tmpDir, 'remote-backup-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const { dir: keyDir, name } = backupNameOfKey(ref.key);
    const manifestKey = `${keyDir}${backupFileNames(name).manifest}`;
    const source = formatRemoteUrl(ref);
    const manifestHead = await store.head(manifestKey);
    if (!manifestHead) {
      if (manifestKey === ref.key)
        throw new UsageError(
          'E_REMOTE_NOT_FOUND',
          `no backup named ${name} at ${source}`,
          { url: source },
          {
            hint: `List the remote backups, e.g. aws s3 ls s3://${ref.bucket}/${keyDir} (or gsutil ls / az storage blob list).`,
          },
        );
      // A bare object without our manifest: download it as is; the caller decides whether that is acceptable.
      opts.log.warn('remote backup has no manifest; its checksum cannot be verified', { url: source });
      const file = join(dir, ref.key.split('/').pop()!);
      if (!(await store.head(ref.key)))
        throw new UsageError(
          'E_REMOTE_NOT_FOUND',
          `${source} does not exist`,
          { url: source },
          {
            hint: 'Check the bucket and key (names are case-sensitive).',
          },
        );
      await download(store, ref, ref.key, file);
      return { file, verified: false, source, cleanup };
    }
    const manifestFile = join(dir, backupFileNames(name).manifest);
    await store.get(manifestKey, manifestFile);
    const parsed = parseManifest(readFileSync(manifestFile, 'utf8'));
    if (!parsed.ok)
      throw new SafetyRefusal(
        'E_REMOTE_MANIFEST',
        `refusing to use ${formatRemoteUrl({ ...ref, key: manifestKey })}: ${parsed.reason}`,
        { key: manifestKey },
        { hint: 'The manifest is damaged or not ours; pick another backup.' },
      );
    const m = parsed.manifest;
    const file = join(dir, m.file);
    opts.log.info('downloading remote backup', {
      url: formatRemoteUrl({ ...ref, key: `${keyDir}${m.file}` }),
      sizeBytes: m.sizeBytes,
    });
    await download(store, ref, `${keyDir}${m.file}`, file, m.sha256);
    let globalsFile: string | undefined;
    if (m.globalsFile) {
      const gKey = `${keyDir}${m.globalsFile}`;
      if (await store.head(gKey)) {
        globalsFile = join(dir, m.globalsFile);
        await download(store, ref, gKey, globalsFile, m.globalsSha256 ?? undefined);
      }
    }
    return {
      file,
      manifestFile,
      globalsFile,
      manifest: m,
      verified: true,
      source: formatRemoteUrl({ ...ref, key: `${keyDir}${m.file}` }),
      cleanup,
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}
