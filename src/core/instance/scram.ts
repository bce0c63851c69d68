/**
 * SCRAM-SHA-256 verifiers computed here, so that CREATE ROLE ... PASSWORD carries the verifier and
 * the plain password never reaches the server's statement log. Format as PostgreSQL stores it:
 * SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * The mapping steps of SASLprep (RFC 4013) that PostgreSQL, libpq and node-postgres apply before
 * hashing: non-ASCII spaces become a space, "commonly mapped to nothing" characters (soft hyphen,
 * zero-width joiners, variation selectors) are dropped, then NFKC. NFKC alone would give a verifier
 * no client can log in with for such a password.
 */
export function saslprepMapped(password: string): string {
  return password
    .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, ' ')
    .replace(/\u00AD|\u034F|\u1806|[\u180B-\u180D]|\u200C|\u200D|\u2060|[\uFE00-\uFE0F]|\uFEFF/g, '')
    .normalize('NFKC');
}

export function scramVerifier(password: string, iterations = 4096, salt = randomBytes(16)): string {
  const salted = pbkdf2Sync(saslprepMapped(password), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * True when `verifier` (as stored in pg_authid.rolpassword) was made from `password`: recomputed
 * with the stored salt and iteration count. Lets the agent tell a rotated password from the one the
 * role has without ever sending the password itself.
 */
export function scramMatches(verifier: string | null | undefined, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier ?? '');
  if (!m) return false;
  const again = scramVerifier(password, Number(m[1]), Buffer.from(m[2]!, 'base64'));
  return again === verifier;
}
