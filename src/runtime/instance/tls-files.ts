/**
 * The server certificate and key under PGOPS_TLS_DIR change in place when their Secret is renewed
 * (cert-manager, a rotated Secret: the kubelet swaps the mounted files). PostgreSQL reads them again
 * on a configuration reload, so the member reloads when their content changes: no restart, no
 * dropped connection.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';

export const TLS_FILES = ['tls.crt', 'tls.key'] as const;

/** A digest of the certificate and key ('' without a TLS directory; 'unreadable' while a file is missing). */
export function tlsFingerprint(dir: string | undefined): string {
  if (!dir) return '';
  const h = createHash('sha256');
  try {
    for (const f of TLS_FILES) h.update(readFileSync(join(dir, f))).update('\0');
  } catch {
    return 'unreadable';
  }
  return h.digest('hex');
}

/** Watches the files' content; `check` reloads PostgreSQL once per change and says whether it did. */
export class TlsReloader {
  private seen: string;

  constructor(private readonly dir: string | undefined) {
    this.seen = tlsFingerprint(dir);
  }

  async check(client: pg.Client): Promise<boolean> {
    const now = tlsFingerprint(this.dir);
    // A half-written update (one file gone) waits for the next look rather than loading a mismatch.
    if (now === this.seen || now === 'unreadable') return false;
    await client.query('SELECT pg_reload_conf()');
    this.seen = now;
    return true;
  }
}
