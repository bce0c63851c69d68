import type { Provider } from '../../core/sync/url.js';

export interface ObjectHead {
  size: number;
  /** Our sha256 of the content, stored as object metadata at upload. */
  sha256?: string;
  etag?: string;
  lastModified?: Date;
}

export interface ObjectEntry {
  key: string;
  size: number;
  lastModified?: Date;
}

/**
 * One interface over S3, GCS and Azure Blob. Keys are full object names inside the bucket
 * (container). Implementations throw the SDK's errors; `reliableStore` adds retries and turns them
 * into errors naming provider, bucket and object.
 */
export interface ObjectStore {
  readonly provider: Provider;
  readonly bucket: string;
  /** null when the object does not exist. */
  head(key: string): Promise<ObjectHead | null>;
  /** Uploads a local file, storing `sha256` as metadata; verifies content in transit where the provider can. */
  put(key: string, file: string, opts: { sha256: string; md5: Buffer }): Promise<void>;
  get(key: string, file: string): Promise<void>;
  list(prefix: string): Promise<ObjectEntry[]>;
  delete(key: string): Promise<void>;
}

/** Where and how to reach the store; credentials come from `env` (the mounted Secret), never from flags. */
export interface StoreConfig {
  provider: Provider;
  bucket: string;
  endpoint?: string;
  region?: string;
  env: NodeJS.ProcessEnv;
  /** Where the agent runs (hints name the chart's Secret or the local environment). */
  mode?: 'kubernetes' | 'local';
}
