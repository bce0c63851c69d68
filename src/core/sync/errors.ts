/**
 * Object store failures, classified the same way for every provider from what their SDK errors
 * carry (HTTP status, error name or code), so that retries and messages do not depend on which
 * SDK threw.
 */
import { OperationFailed, type OpsError } from '../errors.js';
import type { Provider } from './url.js';

export type FailureKind = 'auth' | 'not-found' | 'transient' | 'fatal';

const AUTH_NAMES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'ExpiredToken',
  'InvalidToken',
  'AuthenticationFailed',
  'AuthorizationFailure',
  'AuthorizationPermissionMismatch',
  'CredentialsProviderError',
  'CredentialsError',
  'invalid_grant',
]);
const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'ServerBusy',
  'OperationTimedOut',
  'TimeoutError',
  'REQUEST_SEND_ERROR',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EPIPE',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function statusOf(err: Record<string, unknown>): number | undefined {
  const meta = err.$metadata as { httpStatusCode?: number } | undefined;
  const candidates = [
    meta?.httpStatusCode,
    err.statusCode,
    err.status,
    typeof err.code === 'number' ? err.code : undefined,
  ];
  return candidates.find((c): c is number => typeof c === 'number' && c >= 100 && c < 600);
}

/** Sorts an SDK error into what to do about it: fix credentials, fix the name, retry, or give up. */
export function classifyStoreFailure(err: unknown): FailureKind {
  if (!err || typeof err !== 'object') return 'fatal';
  const e = err as Record<string, unknown>;
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const status = statusOf(e);
  if (AUTH_NAMES.has(name) || AUTH_NAMES.has(code) || status === 401 || status === 403) return 'auth';
  if (NETWORK_CODES.has(code) || TRANSIENT_NAMES.has(name) || TRANSIENT_NAMES.has(code)) return 'transient';
  if (status === 404 || name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchBucket')
    return 'not-found';
  if (status === 408 || status === 429 || (status !== undefined && status >= 500)) return 'transient';
  return 'fatal';
}

/** Where the agent runs, which decides where its object store settings come from. */
export type StoreMode = 'kubernetes' | 'local';

/** Local mode: the operator's environment, or objectstore.env in the state folder (docs/cross-region.md). */
export const LOCAL_SETTINGS =
  'in the environment of postgres-ops or in .postgres-ops/objectstore.env (the local state folder)';

const CREDENTIAL_HINTS: Record<StoreMode, Record<Provider, string>> = {
  kubernetes: {
    s3: 'Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the IAM role of the service account) in the Secret named by databases.postgres.crossRegion.credentialsSecret, and that it may read and write this bucket.',
    gcs: 'Check the service account key at GOOGLE_APPLICATION_CREDENTIALS (from the Secret named by databases.postgres.crossRegion.credentialsSecret) or the workload identity binding, and that it has storage.objects.* on this bucket.',
    azure:
      'Check AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY, in the Secret named by databases.postgres.crossRegion.credentialsSecret.',
  },
  local: {
    s3: `Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and AWS_ENDPOINT_URL for an S3-compatible store, ${LOCAL_SETTINGS}; check that they may read this bucket.`,
    gcs: `Set GOOGLE_APPLICATION_CREDENTIALS to a service account key file (or run gcloud auth application-default login) ${LOCAL_SETTINGS}; check that it may read this bucket.`,
    azure: `Set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY, ${LOCAL_SETTINGS}.`,
  },
};

/** What to set when the store refuses the credentials, or when there are none. */
export function credentialHint(provider: Provider, mode: StoreMode = 'kubernetes'): string {
  return CREDENTIAL_HINTS[mode][provider];
}

const PROVIDER_NAME: Record<Provider, string> = { s3: 'S3', gcs: 'GCS', azure: 'Azure Blob' };

/** One error naming provider, bucket and object, with what to check next. Never carries credentials. */
export function storeError(
  provider: Provider,
  bucket: string,
  key: string | undefined,
  doing: string,
  err: unknown,
  mode: StoreMode = 'kubernetes',
): OpsError {
  const kind = classifyStoreFailure(err);
  const raw = err instanceof Error ? err.message || err.name : String(err);
  const detail = raw.split('\n')[0]!.slice(0, 300);
  const where = `${PROVIDER_NAME[provider]} ${provider === 'azure' ? 'container' : 'bucket'} "${bucket}"${key ? `, object "${key}"` : ''}`;
  const meta = { provider, bucket, ...(key ? { key } : {}), kind };
  const what = `${doing} (${where})`;
  switch (kind) {
    case 'auth':
      return new OperationFailed('E_STORE_AUTH', `${what}: access denied: ${detail}`, meta, {
        cause: err,
        hint: credentialHint(provider, mode),
      });
    case 'not-found':
      return new OperationFailed('E_STORE_NOT_FOUND', `${what}: not found: ${detail}`, meta, {
        cause: err,
        hint: `Check PGOPS_SYNC_BUCKET / the URL: the ${provider === 'azure' ? 'container' : 'bucket'} and object must exist.`,
      });
    case 'transient':
      return new OperationFailed('E_STORE_UNAVAILABLE', `${what}: gave up after retries: ${detail}`, meta, {
        cause: err,
        hint:
          mode === 'local'
            ? `The object store did not answer or was throttling; check its endpoint (AWS_ENDPOINT_URL, or PGOPS_SYNC_ENDPOINT ${LOCAL_SETTINGS}) and the network, then try again.`
            : 'The object store did not answer or was throttling; check PGOPS_SYNC_ENDPOINT and network egress, then try again.',
      });
    default:
      return new OperationFailed('E_STORE', `${what}: ${detail}`, meta, {
        cause: err,
        hint: 'Run again with --debug for the full error.',
      });
  }
}
