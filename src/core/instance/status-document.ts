import { z } from 'zod';

/** The agent's `GET /status` document (src/runtime/instance/health-server.ts); local mode's status reads it. */
export const agentStatusSchema = z.object({
  role: z.enum(['primary', 'replica']).nullable(),
  phase: z.string(),
  ready: z.boolean(),
  timeline: z.number().nullable(),
  lsn: z.string().nullable(),
  lagBytes: z.number().nullable(),
  walReceiver: z.string().nullable(),
  upstream: z.string().nullable(),
  diskUsedPercent: z.number().nullable(),
  /** Why it is not ready, in words (full disk, re-cloning, ...). */
  reason: z.string().nullable(),
});

export type AgentStatus = z.output<typeof agentStatusSchema>;
