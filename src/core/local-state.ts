/**
 * Local mode's `state.json`: what exists under the state folder. Version 2 is what this version
 * writes; version 1 (before the members ran under Patroni) still parses, and `local up` upgrades it
 * (src/local/lifecycle.ts). Unknown fields (a newer postgres-ops's) are kept when the state is
 * rewritten.
 */
import { z } from 'zod';
import { describeIssues } from './parse-issues.js';

const port = z.number().int().min(0).max(65535);

const instanceV1 = z.looseObject({
  name: z.string().min(1),
  /** The role it had when last seen; Patroni decides who leads and PostgreSQL has the last word. */
  role: z.enum(['primary', 'replica']),
  port,
  /** The agent's own health endpoint. */
  healthPort: port,
});

const instance = instanceV1.extend({
  /** Patroni's REST API. */
  restApiPort: port,
});

/** Patroni timings; the defaults are Patroni's own (tests shorten them). */
const haTimings = z.object({ ttl: z.number(), loopWait: z.number(), retryTimeout: z.number() });

const pitrSettings = z.object({
  enabled: z.boolean().optional(),
  /** archive_timeout in seconds (default 60). */
  archiveTimeoutSeconds: z.number().optional(),
  retentionFull: z.number().optional(),
  /** repo2 on the object store named in objectstore.env (PGOPS_SYNC_*), credentials from it too. */
  repo2: z.boolean().optional(),
  /** Only for a test store with a self-signed certificate. */
  repo2VerifyTls: z.boolean().optional(),
});

const common = {
  release: z.string().min(1),
  createdAt: z.string(),
  /** The member that led when last seen (Patroni's leader record is the truth). */
  primary: z.string().min(1),
  exporterPort: port,
};

const localStateSchema = z.looseObject({
  version: z.literal(2),
  ...common,
  instances: z.array(instance),
  etcd: z.object({ clientPort: port, peerPort: port }),
  failover: z.enum(['automatic', 'manual']),
  synchronous: z.boolean(),
  /** Keep the primary while etcd is unreachable but every member answers (default true). */
  failsafe: z.boolean().optional(),
  ha: haTimings.optional(),
  /** PostgreSQL settings over the chart's defaults, and the slot WAL bound (empty: sized from the disk). */
  settings: z
    .object({
      parameters: z.record(z.string(), z.string()).optional(),
      maxSlotWalKeepSize: z.string().optional(),
    })
    .optional(),
  /** Point-in-time recovery (on unless `enabled: false`): repo1 in <state>/pgbackrest. */
  pitr: pitrSettings.optional(),
});

/** A state file written before the members ran under Patroni. */
const legacyStateSchema = z.looseObject({
  version: z.literal(1),
  ...common,
  instances: z.array(instanceV1),
});

const anyStateSchema = z.discriminatedUnion('version', [localStateSchema, legacyStateSchema]);

export type LocalState = z.output<typeof localStateSchema>;
export type LegacyState = z.output<typeof legacyStateSchema>;
export type LocalInstance = LocalState['instances'][number];
export type HaTimings = z.output<typeof haTimings>;

/** The state in either layout, or why the text is not a state file. */
export function parseLocalState(
  text: string,
): { ok: true; state: LocalState | LegacyState } | { ok: false; reason: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  const r = anyStateSchema.safeParse(v);
  return r.success ? { ok: true, state: r.data } : { ok: false, reason: describeIssues(r.error, '(state)') };
}
