/**
 * Remote backup locations: `s3://bucket/key`, `gs://bucket/key`, `azure://container/key`, or a bare
 * backup NAME looked up under the configured bucket and prefix. Used by sync and by restore.
 */
import { UsageError } from '../errors.js';
import { MANIFEST_SUFFIX } from '../backup/names.js';

export type Provider = 's3' | 'gcs' | 'azure';

export interface RemoteRef {
  provider: Provider;
  bucket: string;
  key: string;
}

const SCHEMES: Record<string, Provider> = { 's3:': 's3', 'gs:': 'gcs', 'azure:': 'azure' };
const SCHEME_OF: Record<Provider, string> = { s3: 's3', gcs: 'gs', azure: 'azure' };

/** The scheme of anything written as a URL (`https://...` gives "https"); undefined for a name or a path. */
export function urlScheme(s: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1];
}

/** Written as a URL (any scheme): never a file name or a backup name. */
export function isUrl(s: string): boolean {
  return urlScheme(s) !== undefined;
}

/** A URL of an object store restore and sync read (s3://, gs://, azure://). */
export function isRemoteUrl(s: string): boolean {
  return /^(s3|gs|azure):\/\//i.test(s);
}

/**
 * Restore reads s3://, gs:// and azure:// URLs (the stores sync writes to). Any other URL (https://
 * signed URLs, file://) would be taken for a file name and not found: refused by name (exit 2).
 */
export function refuseUnsupportedUrl(ref: string): void {
  const scheme = urlScheme(ref);
  if (scheme && !isRemoteUrl(ref))
    throw new UsageError(
      'E_REMOTE_URL',
      `restore does not read ${scheme}:// URLs; nothing was changed`,
      { url: ref },
      {
        hint: 'Give s3://BUCKET/KEY, gs://BUCKET/KEY or azure://CONTAINER/KEY, a backup name, or a file (download it first).',
      },
    );
}

/** Parses a remote URL; a malformed one is a usage error (exit 2) showing the accepted forms. */
export function parseRemoteUrl(s: string): RemoteRef {
  const m = /^([a-z0-9]+:)\/\/([^/]+)\/(.+)$/i.exec(s);
  const provider = m ? SCHEMES[m[1]!.toLowerCase()] : undefined;
  if (!m || !provider || !m[3] || m[3].endsWith('/')) {
    throw new UsageError(
      'E_REMOTE_URL',
      `"${s}" is not a backup URL this tool understands`,
      { url: s },
      {
        hint: 'Use s3://BUCKET/path/NAME.dump, gs://BUCKET/path/NAME.dump or azure://CONTAINER/path/NAME.dump.',
      },
    );
  }
  return { provider, bucket: m[2]!, key: m[3] };
}

export function formatRemoteUrl(r: RemoteRef): string {
  return `${SCHEME_OF[r.provider]}://${r.bucket}/${r.key}`;
}

/** "postgres" and "postgres/" both mean the folder postgres/; "" and "/" mean the bucket root. */
export function normalizePrefix(prefix: string): string {
  const p = prefix.replace(/^\/+/, '');
  return p === '' || p.endsWith('/') ? p : `${p}/`;
}

export function remoteKey(prefix: string, fileName: string): string {
  return `${normalizePrefix(prefix)}${fileName}`;
}

const DATA_SUFFIXES = ['.dump', '.sql.gz', '.sql', '.tar', '.gz'];

/** For a key naming a backup's data file or its manifest: the directory part and the backup NAME. */
export function backupNameOfKey(key: string): { dir: string; name: string } {
  const slash = key.lastIndexOf('/');
  const dir = slash >= 0 ? key.slice(0, slash + 1) : '';
  let base = key.slice(slash + 1);
  if (base.endsWith(MANIFEST_SUFFIX)) base = base.slice(0, -MANIFEST_SUFFIX.length);
  else {
    const suffix = DATA_SUFFIXES.find((s) => base.endsWith(s));
    if (suffix) base = base.slice(0, -suffix.length);
  }
  return { dir, name: base };
}

const BARE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * What a restore argument points at remotely: a URL as given, or a bare backup NAME under the
 * configured provider, bucket and prefix (null when the argument is neither).
 */
export function resolveRemoteBackup(
  arg: string,
  cfg: { provider?: Provider; bucket?: string; prefix: string },
): RemoteRef | null {
  if (isRemoteUrl(arg)) return parseRemoteUrl(arg);
  if (!BARE_NAME.test(arg) || !cfg.provider || !cfg.bucket) return null;
  const { name } = backupNameOfKey(arg);
  return {
    provider: cfg.provider,
    bucket: cfg.bucket,
    key: remoteKey(cfg.prefix, `${name}${MANIFEST_SUFFIX}`),
  };
}
