/**
 * Google Cloud Storage. Credentials the SDK's way: workload identity on GKE by default, or a key
 * file named by GOOGLE_APPLICATION_CREDENTIALS; `apiEndpoint` for emulators. Uploads and downloads
 * are validated by the SDK (CRC32C/MD5) on top of our sha256 check.
 */
import { Storage, type StorageOptions } from '@google-cloud/storage';
import { classifyStoreFailure } from '../../core/sync/errors.js';
import type { ObjectStore, StoreConfig } from './types.js';

export function gcsStoreOptions(cfg: StoreConfig): StorageOptions {
  const opts: StorageOptions = { retryOptions: { autoRetry: false } }; // retries are ours (reliableStore)
  if (cfg.endpoint) opts.apiEndpoint = cfg.endpoint;
  if (cfg.env.GOOGLE_APPLICATION_CREDENTIALS) opts.keyFilename = cfg.env.GOOGLE_APPLICATION_CREDENTIALS;
  if (cfg.env.GOOGLE_CLOUD_PROJECT) opts.projectId = cfg.env.GOOGLE_CLOUD_PROJECT;
  return opts;
}

export function gcsStore(cfg: StoreConfig): ObjectStore {
  const bucket = new Storage(gcsStoreOptions(cfg)).bucket(cfg.bucket);
  return {
    provider: 'gcs',
    bucket: cfg.bucket,
    async head(key) {
      try {
        const [m] = await bucket.file(key).getMetadata();
        const sha = m.metadata?.sha256;
        return {
          size: Number(m.size ?? 0),
          sha256: typeof sha === 'string' ? sha : undefined,
          etag: m.etag,
          lastModified: m.updated ? new Date(m.updated) : undefined,
        };
      } catch (err) {
        if (classifyStoreFailure(err) === 'not-found') return null;
        throw err;
      }
    },
    async put(key, file, { sha256, md5 }) {
      await bucket.upload(file, {
        destination: key,
        resumable: true,
        validation: 'md5',
        metadata: { md5Hash: md5.toString('base64'), metadata: { sha256 } },
      });
    },
    async get(key, file) {
      await bucket.file(key).download({ destination: file, validation: true });
    },
    async list(prefix) {
      const [files] = await bucket.getFiles({ prefix, autoPaginate: true });
      return files.map((f) => ({
        key: f.name,
        size: Number(f.metadata.size ?? 0),
        lastModified: f.metadata.updated ? new Date(f.metadata.updated) : undefined,
      }));
    },
    async delete(key) {
      await bucket.file(key).delete({ ignoreNotFound: true });
    },
  };
}
