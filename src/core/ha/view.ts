/**
 * The cluster as Patroni sees it, reduced to what status shows and scripts read: who leads, each
 * member's role, state, timeline and lag, pending restarts, the failover mode and the synchronous
 * standby. Pure: built from Patroni's /cluster and /config answers.
 */
import { z } from 'zod';
import type { PatroniCluster } from './patroni-answers.js';

const haMemberSchema = z.object({
  name: z.string(),
  role: z.enum(['primary', 'replica']),
  /** Patroni's word for PostgreSQL's state: running, starting, stopped, creating replica, ... */
  patroniState: z.string(),
  timeline: z.number().nullable(),
  /** Bytes behind the leader's last known position (replicas), as Patroni computes it. */
  lagBytes: z.number().nullable(),
  pendingRestart: z.boolean(),
  synchronousStandby: z.boolean(),
  noFailover: z.boolean(),
  host: z.string().nullable(),
  port: z.number().nullable(),
});

export type HaMember = z.output<typeof haMemberSchema>;

/** `postgres-agent ha -o json`, read back by postgres-ops (status, promote). */
export const haViewSchema = z.object({
  failover: z.enum(['automatic', 'manual']),
  synchronous: z.boolean(),
  /** Members PostgreSQL currently waits for on commit (empty: none, writes are not protected). */
  synchronousStandby: z.array(z.string()),
  leader: z.string().nullable(),
  members: z.array(haMemberSchema),
  paused: z.boolean(),
});

export type HaView = z.output<typeof haViewSchema>;

export function haView(
  cluster: PatroniCluster,
  config: Record<string, unknown>,
  failover: 'automatic' | 'manual',
): HaView {
  const members = cluster.members.map((m): HaMember => ({
    name: m.name,
    role: m.role === 'leader' || m.role === 'standby_leader' ? 'primary' : 'replica',
    patroniState: m.state,
    timeline: typeof m.timeline === 'number' ? m.timeline : null,
    lagBytes: typeof m.lag === 'number' ? m.lag : m.role === 'leader' ? 0 : null,
    pendingRestart: m.pending_restart === true,
    synchronousStandby: m.role === 'sync_standby',
    noFailover: m.tags?.nofailover === true,
    host: m.host ?? null,
    port: m.port ?? null,
  }));
  return {
    failover,
    synchronous: config.synchronous_mode === true,
    synchronousStandby: members.filter((m) => m.synchronousStandby).map((m) => m.name),
    leader: members.find((m) => m.role === 'primary')?.name ?? null,
    members,
    paused: cluster.pause === true,
  };
}
