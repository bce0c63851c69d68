/**
 * What the leading member's agent keeps in step, beyond Patroni: role passwords (Patroni sets them
 * only at bootstrap) and replication slots invalidated by max_slot_wal_keep_size (Patroni 3.0 keeps
 * them, and a lost slot can never be used again).
 */
import type pg from 'pg';
import type { AgentEnv } from '../../core/config/schema.js';
import { scramMatches, scramVerifier } from '../../core/instance/scram.js';
import { quoteIdent, quoteLiteral } from '../../core/pg/conninfo.js';
import { readSecret, type SecretName } from '../secrets.js';

/**
 * Sets the password of each of our roles whose stored verifier does not match its secret; returns
 * the roles changed. The verifier is computed here, so the password never reaches the server's
 * statement log.
 */
export async function applyRolePasswords(c: pg.Client, env: AgentEnv): Promise<string[]> {
  const roles: [string, SecretName][] = [
    [env.PGOPS_SUPERUSER, 'PGOPS_SUPERUSER_PASSWORD'],
    [env.PGOPS_REPLICATION_USER, 'PGOPS_REPLICATION_PASSWORD'],
    [env.PGOPS_APP_USER, 'PGOPS_APP_PASSWORD'],
  ];
  const r = await c.query<{ rolname: string; rolpassword: string | null }>(
    'SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1)',
    [roles.map(([name]) => name)],
  );
  const stored = new Map(r.rows.map((row) => [row.rolname, row.rolpassword]));
  const changed: string[] = [];
  for (const [role, secret] of roles) {
    const password = readSecret(env, secret);
    if (!password || !stored.has(role) || scramMatches(stored.get(role), password)) continue;
    await c.query(`ALTER ROLE ${quoteIdent(role)} PASSWORD ${quoteLiteral(scramVerifier(password))}`);
    changed.push(role);
  }
  return changed;
}

/** Drops inactive slots whose WAL is gone; returns their names. */
export async function dropLostSlots(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ slot_name: string }>(
    `SELECT slot_name FROM pg_replication_slots
      WHERE slot_type = 'physical' AND wal_status = 'lost' AND NOT active`,
  );
  const dropped: string[] = [];
  for (const { slot_name } of r.rows) {
    await c.query('SELECT pg_drop_replication_slot($1)', [slot_name]);
    dropped.push(slot_name);
  }
  return dropped;
}
