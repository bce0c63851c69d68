import { z } from 'zod';

/**
 * The member's `allow-failover` file: written by `postgres-agent promote` while it lifts the fence
 * of a manual-failover cluster, read by the member's agent (src/runtime/instance/member.ts).
 */
export const allowFailoverSchema = z.object({
  /** Until when (ms since epoch) the member may be promoted. */
  until: z.number(),
});

export type AllowFailover = z.output<typeof allowFailoverSchema>;
