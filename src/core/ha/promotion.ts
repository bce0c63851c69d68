/**
 * Whether a member may be promoted, and how: pure rules over what Patroni and PostgreSQL reported.
 * A switchover (the primary is healthy: it hands over, no commit is lost) needs a candidate that is
 * streaming and caught up; a failover (the primary is gone) needs one that lacks at most the bound.
 * Anything else is refused with the number of bytes that would be lost, unless forced.
 */
export interface CandidateFacts {
  name: string;
  /** The member is known to Patroni and its PostgreSQL answers. */
  answers: boolean;
  inRecovery: boolean;
  walReceiver: string | null;
  /** Bytes of WAL the primary has that the candidate has not received (null: unknown). */
  missingBytes: number | null;
  /** In synchronous mode: the candidate is the synchronous standby. */
  isSyncStandby: boolean;
}

export interface PromotionInput {
  candidate: CandidateFacts;
  /** The current leader, when one holds the lead. */
  leader: string | null;
  /** The leader's PostgreSQL accepts writes. */
  leaderHealthy: boolean;
  synchronous: boolean;
  maxLagBytes: number;
  force: boolean;
  /** Other replicas that have more WAL than the candidate, with how much more. */
  aheadOfCandidate: { name: string; bytes: number }[];
}

export type PromotionPlan =
  | { action: 'none'; reason: string }
  | {
      action: 'switchover' | 'failover';
      from: string | null;
      to: string;
      missingBytes: number | null;
      warnings: string[];
    }
  | { action: 'refuse'; reason: string; missingBytes: number | null; hint: string };

export function planPromotion(p: PromotionInput): PromotionPlan {
  const c = p.candidate;
  if (p.leader === c.name && !c.inRecovery)
    return { action: 'none', reason: `${c.name} is already the primary` };
  if (!c.answers)
    return {
      action: 'refuse',
      reason: `${c.name} does not answer (PostgreSQL is not running there)`,
      missingBytes: null,
      hint: `Start it first and wait until it streams, then run promote again; postgres-ops status shows its state.`,
    };
  const warnings: string[] = [];
  const action = p.leader && p.leaderHealthy ? 'switchover' : 'failover';
  const problems: string[] = [];
  if (action === 'switchover') {
    if (c.walReceiver !== 'streaming' || c.missingBytes === null || c.missingBytes > 0)
      problems.push(
        c.missingBytes === null
          ? `${c.name} is not streaming from the primary ${p.leader}`
          : `${c.name} is not streaming from the primary ${p.leader}: it lacks ${c.missingBytes} bytes of WAL and received nothing new while waiting`,
      );
    if (p.synchronous && !c.isSyncStandby)
      problems.push(
        `replication is synchronous and ${c.name} is not the synchronous standby: commits acknowledged by the primary may be missing on it`,
      );
  } else {
    if (c.missingBytes === null)
      problems.push(
        `how much WAL ${c.name} lacks is unknown (the primary's last position was never recorded)`,
      );
    else if (c.missingBytes > p.maxLagBytes)
      problems.push(
        `${c.name} lacks ${c.missingBytes} bytes of WAL the old primary had (bound: ${p.maxLagBytes}); those commits would be lost`,
      );
    if (p.synchronous && !c.isSyncStandby)
      warnings.push(`${c.name} was not the synchronous standby; acknowledged commits may be missing on it`);
  }
  for (const a of p.aheadOfCandidate)
    warnings.push(
      `${a.name} has ${a.bytes} bytes of WAL more than ${c.name}; promoting ${a.name} would lose less`,
    );
  if (problems.length && !p.force)
    return {
      action: 'refuse',
      reason: `refusing to promote ${c.name}: ${problems.join('; ')}`,
      missingBytes: c.missingBytes,
      hint:
        action === 'switchover'
          ? `Wait until ${c.name} streams (postgres-ops status), or promote another replica; --force promotes anyway and loses what it lacks.`
          : `Promote the replica with the most WAL (postgres-ops status), or bring the old primary back; --force promotes anyway and loses what it lacks.`,
    };
  if (problems.length) warnings.unshift(`forced: ${problems.join('; ')}`);
  return { action, from: p.leader, to: c.name, missingBytes: c.missingBytes, warnings };
}
