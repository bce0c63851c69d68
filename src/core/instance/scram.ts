/**
 * SCRAM-SHA-256 verifiers computed here, so that CREATE ROLE ... PASSWORD carries the verifier and
 * the plain password never reaches the server's statement log. Format as PostgreSQL stores it:
 * SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export function scramVerifier(password: string, iterations = 4096, salt = randomBytes(16)): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
