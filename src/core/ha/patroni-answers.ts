/**
 * Patroni's REST API answers (3.0.2), as far as we read them: GET /cluster, /patroni and /config.
 * Parsed with these schemas (src/runtime/ha/patroni-api.ts). Only what every answer carries is
 * required; a field we read that comes in another type reads as absent, as the code always
 * treated it: the member's agent takes a /patroni answer as a sign of life (its watchdog restarts a
 * silent Patroni), so an odd field must never turn an answer into no answer. Other fields are kept.
 */
import { z } from 'zod';

/** Optional, and absent when it has another type. */
const maybe = <T extends z.ZodType>(t: T) => t.optional().catch(undefined);

const patroniMemberSchema = z.looseObject({
  name: z.string(),
  /** leader, replica, sync_standby, standby_leader, ... */
  role: z.string(),
  state: z.string(),
  api_url: maybe(z.string()),
  host: maybe(z.string()),
  port: maybe(z.number()),
  timeline: maybe(z.number()),
  /** Bytes behind the leader, or "unknown". */
  lag: maybe(z.union([z.number(), z.string()])),
  pending_restart: maybe(z.boolean()),
  tags: maybe(z.record(z.string(), z.unknown())),
});

export const patroniClusterSchema = z.looseObject({
  members: z.array(patroniMemberSchema),
  pause: maybe(z.boolean()),
});

export const patroniSelfSchema = z.looseObject({
  state: z.string(),
  role: z.string(),
  timeline: maybe(z.number()),
  pending_restart: maybe(z.boolean()),
  tags: maybe(z.record(z.string(), z.unknown())),
});

/** GET/PATCH /config: Patroni's dynamic configuration, an object of settings. */
export const patroniConfigSchema = z.record(z.string(), z.unknown());

export type PatroniMember = z.output<typeof patroniMemberSchema>;
export type PatroniCluster = z.output<typeof patroniClusterSchema>;
export type PatroniSelf = z.output<typeof patroniSelfSchema>;
