import { z } from 'zod';

/** `postgres-agent promote -o json`: what the member's agent did; read back by postgres-ops promote. */
export const promoteResultSchema = z.object({
  promoted: z.boolean(),
  candidate: z.string(),
  action: z.enum(['switchover', 'failover', 'none']),
  previousPrimary: z.string().nullable(),
  /** Bytes of WAL the candidate lacked when checked (null: unknown). */
  missingBytes: z.number().nullable(),
  warnings: z.array(z.string()),
  timeline: z.number().nullable(),
  lsn: z.string().nullable(),
  message: z.string(),
});

export type PromoteResult = z.output<typeof promoteResultSchema>;
