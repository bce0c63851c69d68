/**
 * What the leading member's agent keeps in step, beyond Patroni: pgBackRest's stanza, the
 * cluster-wide configuration, role passwords (Patroni sets them only at bootstrap) and replication
 * slots invalidated by max_slot_wal_keep_size (Patroni 3.0 keeps them, and a lost slot can never be
 * used again).
 */
import type pg from 'pg';
import type { AgentConfig } from '../../core/config/schema.js';
import { scramMatches, scramVerifier } from '../../core/instance/scram.js';
import { BACKUP_HISTORY_DDL } from '../../core/backup/history-sql.js';
import { PITR_HISTORY_DDL, PITR_TABLES } from '../../core/pitr/history-sql.js';
import { quoteIdent, quoteLiteral } from '../../core/pg/conninfo.js';
import { readSecret, type SecretName, type SecretSettings } from '../secrets.js';
import { dynamicConfig, dynamicConfigPatch } from '../../core/ha/patroni-config.js';
import type { PatroniApi } from '../ha/patroni-api.js';
import type { Logger } from '../log.js';
import type { MemberArchive } from '../pitr/member-archive.js';
import { memberInputs, type MemberConfigFiles } from './patroni-inputs.js';

/**
 * Sets the password of each of our roles whose stored verifier does not match its secret; returns
 * the roles changed. The verifier is computed here, so the password never reaches the server's
 * statement log.
 */
export async function applyRolePasswords(c: pg.Client, config: SecretSettings): Promise<string[]> {
  const roles: [string, SecretName][] = [
    [config.roles.superuser, 'PGOPS_SUPERUSER_PASSWORD'],
    [config.roles.replicationUser, 'PGOPS_REPLICATION_PASSWORD'],
    [config.roles.appUser, 'PGOPS_APP_PASSWORD'],
  ];
  const r = await c.query<{ rolname: string; rolpassword: string | null }>(
    'SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1)',
    [roles.map(([name]) => name)],
  );
  const stored = new Map(r.rows.map((row) => [row.rolname, row.rolpassword]));
  const changed: string[] = [];
  for (const [role, secret] of roles) {
    const password = readSecret(config, secret);
    if (!password || !stored.has(role) || scramMatches(stored.get(role), password)) continue;
    await c.query(`ALTER ROLE ${quoteIdent(role)} PASSWORD ${quoteLiteral(scramVerifier(password))}`);
    changed.push(role);
  }
  return changed;
}

/**
 * Replaces each inactive slot whose WAL is gone with a fresh one of the same name, reserving WAL
 * from now on; returns their names. Dropped only, the slot would not come back: Patroni remembers
 * the slots it made and would not see it missing. Its replica then catches up from the archive or,
 * without one, is cloned again by its own agent.
 */
export async function renewLostSlots(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ slot_name: string }>(
    `SELECT slot_name FROM pg_replication_slots
      WHERE slot_type = 'physical' AND wal_status = 'lost' AND NOT active`,
  );
  const renewed: string[] = [];
  for (const { slot_name } of r.rows) {
    await c.query('BEGIN');
    try {
      await c.query('SELECT pg_drop_replication_slot($1)', [slot_name]);
      await c.query('SELECT pg_create_physical_replication_slot($1, true)', [slot_name]);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    renewed.push(slot_name);
  }
  return renewed;
}

/** The tables the exporter's queries read (files/monitoring/queries.yaml). */
export const PGOPS_TABLES = ['pgops.backup_history', ...PITR_TABLES];

/**
 * Creates the pgops tables the exporter reads when one is missing (a cluster that predates them):
 * a query on a missing table would fail every scrape. DDL only when needed: with
 * log_statement=ddl every statement here lands in the audit log.
 */
export async function ensurePgopsTables(c: pg.Client): Promise<boolean> {
  const r = await c.query<{ missing: number }>(
    'SELECT count(*)::int AS missing FROM unnest($1::text[]) t WHERE to_regclass(t) IS NULL',
    [PGOPS_TABLES],
  );
  if (!r.rows[0]?.missing) return false;
  await c.query(BACKUP_HISTORY_DDL);
  await c.query(PITR_HISTORY_DDL);
  return true;
}

/**
 * The metrics exporter's role (PGOPS_MONITOR_USER), when its password is set: it logs in, is a
 * member of pg_monitor and may read the pgops tables, and has nothing else. Created here on a
 * cluster that predates it; its password follows the secret like the others. Returns what changed.
 */
export async function ensureMonitorRole(c: pg.Client, config: SecretSettings): Promise<string[]> {
  const password = readSecret(config, 'PGOPS_MONITOR_PASSWORD');
  if (!password) return [];
  const role = config.roles.monitorUser;
  const q = quoteIdent(role);
  const changed: string[] = [];
  const r = await c.query<{ rolpassword: string | null; rolcanlogin: boolean; monitor: boolean }>(
    `SELECT rolpassword, rolcanlogin, pg_has_role(oid, 'pg_monitor', 'MEMBER') AS monitor
       FROM pg_authid WHERE rolname = $1`,
    [role],
  );
  const row = r.rows[0];
  const verifier = quoteLiteral(scramVerifier(password));
  if (!row) {
    await c.query(`CREATE ROLE ${q} WITH LOGIN PASSWORD ${verifier} IN ROLE pg_monitor`);
    changed.push(`created role ${role} (member of pg_monitor)`);
  } else {
    if (!row.rolcanlogin || !scramMatches(row.rolpassword, password)) {
      await c.query(`ALTER ROLE ${q} WITH LOGIN PASSWORD ${verifier}`);
      changed.push(`applied the new password of role ${role}`);
    }
    if (!row.monitor) {
      await c.query(`GRANT pg_monitor TO ${q}`);
      changed.push(`granted pg_monitor to ${role}`);
    }
  }
  await ensurePgopsTables(c);
  const p = await c.query<{ usage: boolean; missing: string[] }>(
    `SELECT has_schema_privilege($1, 'pgops', 'USAGE') AS usage,
            array(SELECT t FROM unnest($2::text[]) t WHERE NOT has_table_privilege($1, t, 'SELECT')) AS missing`,
    [role, PGOPS_TABLES],
  );
  if (!p.rows[0]?.usage || p.rows[0].missing.length) {
    await c.query(`GRANT USAGE ON SCHEMA pgops TO ${q}`);
    for (const t of p.rows[0]?.missing ?? PGOPS_TABLES) await c.query(`GRANT SELECT ON ${t} TO ${q}`);
    changed.push(`granted ${role} read access to ${(p.rows[0]?.missing ?? PGOPS_TABLES).join(', ')}`);
  }
  return changed;
}

/** What the leader's duties act on: the member's archive, Patroni, its SQL session and settings. */
export interface LeaderDutyInputs {
  archive: MemberArchive;
  api: PatroniApi;
  client: pg.Client | undefined;
  config: AgentConfig;
  files: MemberConfigFiles;
  binDir: string;
  log: Logger;
}

/**
 * Every duty of the leading member's agent, each on its own (one failing does not stop the others):
 * pgBackRest's stanza, the cluster-wide configuration, role passwords, the monitoring role and our
 * tables, lost replication slots.
 */
export async function runLeaderDuties(d: LeaderDutyInputs): Promise<void> {
  // The stanza (until it exists no WAL is archived) and pgBackRest's check, in the background:
  // a repository that does not answer makes them wait for minutes, which must not hold up the
  // duties below.
  void d.archive.leaderDuty();
  // Cluster-wide settings (timings, synchronous mode, max_connections, ...) follow ours.
  try {
    const wanted = dynamicConfig(
      memberInputs(d.config, d.files, { postBootstrap: '', noFailover: false, binDir: d.binDir }).inputs
        .dynamic,
    );
    const patch = dynamicConfigPatch(await d.api.config(), wanted);
    if (patch) {
      await d.api.patchConfig(patch);
      d.log.info('updated the cluster-wide configuration', { changed: patch });
    }
  } catch (err) {
    d.log.warn(`could not check the cluster-wide configuration: ${(err as Error).message}`);
  }
  if (!d.client) return;
  try {
    for (const r of await applyRolePasswords(d.client, d.config))
      d.log.info(`applied the new password of role ${r}`);
  } catch (err) {
    d.log.error(`could not apply a changed password: ${(err as Error).message}`);
  }
  try {
    if (await ensurePgopsTables(d.client)) d.log.info('created the pgops tables the metrics read');
    for (const change of await ensureMonitorRole(d.client, d.config)) d.log.info(change);
  } catch (err) {
    d.log.error(`could not set up the monitoring role: ${(err as Error).message}`);
  }
  try {
    for (const slot of await renewLostSlots(d.client))
      d.log.warn(
        `renewed replication slot ${slot}: the WAL it held was removed (max_slot_wal_keep_size); its member catches up from the archive or is cloned again`,
      );
  } catch (err) {
    d.log.warn(`could not check replication slots: ${(err as Error).message}`);
  }
}
