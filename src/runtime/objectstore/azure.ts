/**
 * Azure Blob Storage. Credentials: AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with
 * AZURE_STORAGE_KEY (endpoint from PGOPS_SYNC_ENDPOINT or the account's public one). The file's
 * MD5 is stored as Content-MD5, which Azure returns on every read for comparison.
 */
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { UsageError } from '../../core/errors.js';
import { classifyStoreFailure, credentialHint } from '../../core/sync/errors.js';
import type { ObjectStore, StoreConfig } from './types.js';

function serviceClient(cfg: StoreConfig): BlobServiceClient {
  const env = cfg.env;
  const retryOptions = { maxTries: 1 }; // retries are ours (reliableStore)
  if (env.AZURE_STORAGE_CONNECTION_STRING)
    return BlobServiceClient.fromConnectionString(env.AZURE_STORAGE_CONNECTION_STRING, { retryOptions });
  if (env.AZURE_STORAGE_ACCOUNT && env.AZURE_STORAGE_KEY) {
    const url = cfg.endpoint ?? `https://${env.AZURE_STORAGE_ACCOUNT}.blob.core.windows.net`;
    return new BlobServiceClient(
      url,
      new StorageSharedKeyCredential(env.AZURE_STORAGE_ACCOUNT, env.AZURE_STORAGE_KEY),
      { retryOptions },
    );
  }
  throw new UsageError(
    'E_AZURE_CREDENTIALS',
    'no Azure Blob credentials: neither AZURE_STORAGE_CONNECTION_STRING nor AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY is set',
    { provider: 'azure', bucket: cfg.bucket },
    { hint: credentialHint('azure', cfg.mode) },
  );
}

export function azureStore(cfg: StoreConfig): ObjectStore {
  const container = serviceClient(cfg).getContainerClient(cfg.bucket);
  return {
    provider: 'azure',
    bucket: cfg.bucket,
    async head(key) {
      try {
        const p = await container.getBlockBlobClient(key).getProperties();
        return {
          size: p.contentLength ?? 0,
          sha256: p.metadata?.sha256,
          etag: p.etag,
          lastModified: p.lastModified,
        };
      } catch (err) {
        if (classifyStoreFailure(err) === 'not-found') return null;
        throw err;
      }
    },
    async put(key, file, { sha256, md5 }) {
      await container.getBlockBlobClient(key).uploadFile(file, {
        metadata: { sha256 },
        blobHTTPHeaders: { blobContentMD5: md5 },
        blockSize: 8 * 1024 * 1024,
        concurrency: 2,
      });
    },
    async get(key, file) {
      await container.getBlockBlobClient(key).downloadToFile(file);
    },
    async list(prefix) {
      const out: { key: string; size: number; lastModified?: Date }[] = [];
      for await (const b of container.listBlobsFlat({ prefix }))
        out.push({
          key: b.name,
          size: b.properties.contentLength ?? 0,
          lastModified: b.properties.lastModified,
        });
      return out;
    },
    async delete(key) {
      await container.getBlockBlobClient(key).deleteIfExists();
    },
  };
}
