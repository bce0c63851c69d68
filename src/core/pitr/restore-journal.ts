import { z } from 'zod';

/**
 * Local mode's `restore.json`: where a point-in-time restore is, so that one interrupted part way
 * is finished or undone by the next command (src/local/pitr.ts).
 */
export const restoreJournalSchema = z.object({
  phase: z.enum(['recovering', 'switching', 'done', 'undone']),
  stamp: z.string(),
  startedAt: z.string(),
  target: z.string(),
  /** The member that adopts the restored directory. */
  first: z.string(),
  newDir: z.string(),
  /** Every member's data directory and where it goes aside. */
  moves: z.array(z.object({ dir: z.string(), aside: z.string() })),
  spools: z.array(z.string()),
});

export type RestoreJournal = z.output<typeof restoreJournalSchema>;
