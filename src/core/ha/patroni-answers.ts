/**
 * Patroni's REST API answers (3.0.2), as far as we read them: GET /cluster, /patroni and /config.
 * Parsed with these schemas (src/runtime/ha/patroni-api.ts); fields we do not read are kept.
 */
import { z } from 'zod';

const patroniMemberSchema = z.looseObject({
  name: z.string(),
  /** leader, replica, sync_standby, standby_leader, ... */
  role: z.string(),
  state: z.string(),
  api_url: z.string().optional(),
  host: z.string().optional(),
  port: z.number().optional(),
  timeline: z.number().optional(),
  /** Bytes behind the leader, or "unknown". */
  lag: z.union([z.number(), z.string()]).optional(),
  pending_restart: z.boolean().optional(),
  tags: z.record(z.string(), z.unknown()).optional(),
});

export const patroniClusterSchema = z.looseObject({
  members: z.array(patroniMemberSchema),
  pause: z.boolean().optional(),
  scheduled_switchover: z.unknown().optional(),
  failover: z.unknown().optional(),
});

export const patroniSelfSchema = z.looseObject({
  state: z.string(),
  role: z.string(),
  timeline: z.number().optional(),
  server_version: z.number().nullish(),
  pending_restart: z.boolean().optional(),
  tags: z.record(z.string(), z.unknown()).optional(),
  xlog: z
    .looseObject({
      location: z.number().nullish(),
      received_location: z.number().nullish(),
      replayed_location: z.number().nullish(),
    })
    .optional(),
  database_system_identifier: z.string().optional(),
  patroni: z.looseObject({ version: z.string(), scope: z.string() }).optional(),
});

/** GET/PATCH /config: Patroni's dynamic configuration, an object of settings. */
export const patroniConfigSchema = z.record(z.string(), z.unknown());

export type PatroniMember = z.output<typeof patroniMemberSchema>;
export type PatroniCluster = z.output<typeof patroniClusterSchema>;
export type PatroniSelf = z.output<typeof patroniSelfSchema>;
