/**
 * Opens the configured object store, wrapped with our retry policy, error wording and upload
 * verification. Provider SDKs are loaded only when used, so other commands do not load them.
 */
import { statSync } from 'node:fs';
import type { AgentConfig } from '../../core/config/schema.js';
import { OperationFailed, UsageError } from '../../core/errors.js';
import { storeError, type StoreMode } from '../../core/sync/errors.js';
import { DEFAULT_RETRY, type RetryPolicy, withRetries } from '../../core/sync/retry.js';
import type { Provider } from '../../core/sync/url.js';
import type { Logger } from '../log.js';
import type { ObjectStore, StoreConfig } from './types.js';

export type { ObjectStore, StoreConfig } from './types.js';

export async function openRawStore(cfg: StoreConfig): Promise<ObjectStore> {
  switch (cfg.provider) {
    case 's3':
      return (await import('./s3.js')).s3Store(cfg);
    case 'gcs':
      return (await import('./gcs.js')).gcsStore(cfg);
    case 'azure':
      return (await import('./azure.js')).azureStore(cfg);
  }
}

export interface ReliableOptions {
  /** Where the agent runs: errors say where to fix the settings (chart Secret, or local environment). */
  mode?: StoreMode;
  retry?: Partial<Omit<RetryPolicy, 'sleep'>>;
  sleep?: (ms: number) => Promise<void>;
  log?: Logger;
}

/**
 * Retries transient failures with backoff (never auth errors), names provider, bucket and object
 * in every error, and re-reads each uploaded object to compare its size and sha256 metadata.
 */
export function reliableStore(store: ObjectStore, opts: ReliableOptions = {}): ObjectStore {
  const { provider, bucket } = store;
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY,
    ...opts.retry,
    sleep: opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    onRetry: (attempt, delayMs, err) =>
      opts.log?.warn('object store call failed, retrying', {
        provider,
        bucket,
        attempt,
        delayMs,
        error: err instanceof Error ? err.message.split('\n')[0] : String(err),
      }),
  };
  const run = async <T>(doing: string, key: string | undefined, fn: () => Promise<T>): Promise<T> => {
    try {
      return await withRetries(fn, policy);
    } catch (err) {
      if (err instanceof UsageError || err instanceof OperationFailed) throw err;
      throw storeError(provider, bucket, key, doing, err, opts.mode);
    }
  };
  return {
    provider,
    bucket,
    head: (key) => run('reading object metadata', key, () => store.head(key)),
    async put(key, file, o) {
      const size = statSync(file).size;
      await run('uploading', key, () => store.put(key, file, o));
      const h = await run('checking the uploaded object', key, () => store.head(key));
      if (!h || h.size !== size || h.sha256 !== o.sha256) {
        throw new OperationFailed(
          'E_STORE_VERIFY',
          `uploaded object "${key}" in ${provider} bucket "${bucket}" does not match the local file (size ${h?.size ?? 'missing'} vs ${size}, sha256 ${h?.sha256 ?? 'missing'} vs ${o.sha256})`,
          { provider, bucket, key },
          { hint: 'Run the sync again; it re-uploads objects whose sha256 does not match.' },
        );
      }
    },
    get: (key, file) => run('downloading', key, () => store.get(key, file)),
    list: (prefix) => run('listing objects', prefix, () => store.list(prefix)),
    delete: (key) => run('deleting', key, () => store.delete(key)),
  };
}

/** Provider, bucket and endpoint from the agent's configuration; missing ones are usage errors. */
export function storeConfigFrom(
  config: Pick<AgentConfig, 'sync' | 'agent'>,
  rawEnv: NodeJS.ProcessEnv,
  override?: { provider: Provider; bucket: string },
): StoreConfig {
  const provider = override?.provider ?? config.sync.provider;
  const bucket = override?.bucket ?? config.sync.bucket;
  if (!provider || !bucket) {
    throw new UsageError(
      'E_SYNC_CONFIG',
      `the object store is not configured (${!provider ? 'PGOPS_SYNC_PROVIDER' : 'PGOPS_SYNC_BUCKET'} is not set)`,
      {},
      {
        hint:
          config.agent.mode === 'local'
            ? `Set PGOPS_SYNC_PROVIDER=s3|gcs|azure and PGOPS_SYNC_BUCKET in .postgres-ops/objectstore.env (the local state folder), or restore a URL (s3://, gs://, azure://).`
            : 'Set databases.postgres.crossRegion.provider and .bucket in the chart values (PGOPS_SYNC_PROVIDER=s3|gcs|azure, PGOPS_SYNC_BUCKET).',
      },
    );
  }
  // The endpoint and region belong to the configured provider; a URL for another one uses its
  // defaults, or the SDK's own endpoint variable (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL).
  const same = provider === config.sync.provider;
  const vendorEndpoint =
    provider === 's3' ? (rawEnv.AWS_ENDPOINT_URL_S3 ?? rawEnv.AWS_ENDPOINT_URL) || undefined : undefined;
  return {
    provider,
    bucket,
    endpoint: (same ? config.sync.endpoint : undefined) ?? vendorEndpoint,
    region: same ? config.sync.region : undefined,
    env: rawEnv,
    mode: config.agent.mode,
  };
}

export async function openObjectStore(cfg: StoreConfig, opts: ReliableOptions = {}): Promise<ObjectStore> {
  return reliableStore(await openRawStore(cfg), { mode: cfg.mode, ...opts });
}
