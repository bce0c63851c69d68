/**
 * What a file to restore contains, told from its first bytes rather than its name: the guide names
 * backups `*.sql.gz`, ours end in `.dump`, and people rename files.
 */
export type BackupFormat =
  | 'custom' // pg_dump -Fc archive (magic PGDMP)
  | 'custom-gzip' // a custom archive piped through gzip
  | 'tar' // pg_dump -Ft archive
  | 'directory' // pg_dump -Fd dump packed into one tar file (our parallel backups)
  | 'plain' // SQL text (pg_dump -Fp)
  | 'plain-gzip'; // SQL text piped through gzip (pg_dump | gzip > x.sql.gz)

export type FormatCheck = { ok: true; format: BackupFormat } | { ok: false; reason: string };

const PGDMP = [0x50, 0x47, 0x44, 0x4d, 0x50];

function startsWith(b: Uint8Array, magic: number[]): boolean {
  return magic.every((m, i) => b[i] === m);
}

function isTar(b: Uint8Array): boolean {
  if (b.length < 262) return false;
  return String.fromCharCode(...b.subarray(257, 262)) === 'ustar';
}

/** Text that a SQL script made by pg_dump (or a person) plausibly starts with. */
function looksLikeSql(b: Uint8Array): boolean {
  if (b.length === 0) return false;
  if (b.includes(0)) return false;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, Math.min(b.length, 4096 - 4)));
  } catch {
    // A multi-byte character cut at the end of the sample is fine; anything else is binary.
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, Math.max(0, b.length - 4)));
    } catch {
      return false;
    }
  }
  const body = text.replace(/^\uFEFF/, '').trimStart();
  return /^(--|\/\*|\\|SET\s|SELECT\s|CREATE\s|BEGIN|START\s|INSERT\s|COPY\s|ALTER\s|DROP\s|COMMENT\s|GRANT\s)/i.test(
    body,
  );
}

/**
 * `head` is the file's first bytes (4 KiB is plenty); `gunzippedHead` the first bytes after
 * decompression, when the file is gzip.
 */
export function detectBackupFormat(head: Uint8Array, gunzippedHead?: Uint8Array): FormatCheck {
  if (head.length === 0) return { ok: false, reason: 'the file is empty' };
  if (startsWith(head, PGDMP)) return { ok: true, format: 'custom' };
  if (head[0] === 0x1f && head[1] === 0x8b) {
    if (!gunzippedHead || gunzippedHead.length === 0)
      return { ok: false, reason: 'gzip data that decompresses to nothing (empty or damaged)' };
    if (startsWith(gunzippedHead, PGDMP)) return { ok: true, format: 'custom-gzip' };
    if (looksLikeSql(gunzippedHead)) return { ok: true, format: 'plain-gzip' };
    return { ok: false, reason: 'gzip data that is neither a pg_dump archive nor SQL text' };
  }
  if (isTar(head)) return { ok: true, format: 'tar' };
  if (looksLikeSql(head)) return { ok: true, format: 'plain' };
  return { ok: false, reason: 'not a pg_dump archive, gzip file or SQL script' };
}
