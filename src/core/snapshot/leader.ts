/**
 * Which member's volume a snapshot is cut from: the member that leads when the snapshot starts, as
 * Patroni records it in the Endpoints named after the scope (annotation `leader`, and the leader's
 * pod IP as their address). Pure: the Kubernetes adapter reads the object.
 */
import { OperationFailed } from '../errors.js';

/** Annotation on our VolumeSnapshots naming the member whose volume was cut. */
export const ANNOTATION_MEMBER = 'pyairtable-stack/member';

export interface LeaderRecord {
  /** Pod name of the member that holds the leader lock. */
  member: string;
  /** The address the Endpoints point at (the leader's pod IP), when set. */
  ip: string | null;
}

interface EndpointsLike {
  metadata?: { annotations?: Record<string, string> | null } | null;
  subsets?: { addresses?: { ip?: string | null }[] | null }[] | null;
}

/** The leader record in Patroni's Endpoints, or null when no member holds the lock. */
export function leaderFromEndpoints(ep: EndpointsLike | null | undefined): LeaderRecord | null {
  const member = ep?.metadata?.annotations?.leader;
  if (!member) return null;
  const ip = ep?.subsets?.[0]?.addresses?.[0]?.ip ?? null;
  return { member, ip };
}

/** The data PVC of a member of the StatefulSet (claim template `postgres-storage`). */
export function memberPvc(member: string): string {
  return `postgres-storage-${member}`;
}

/**
 * The PVCs of every member of the same StatefulSet as `member` (`<statefulset>-<ordinal>`):
 * retention counts snapshots of the cluster, whichever member led when each was cut.
 */
export function sameClusterPvc(member: string): (pvc: string) => boolean {
  const set = member.replace(/-\d+$/, '');
  const re = new RegExp(`^postgres-storage-${set.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d+$`);
  return (pvc) => re.test(pvc);
}

/**
 * The server a session reached must be the leader the record names: otherwise leadership is moving
 * and the volume cut would not be the one held in backup mode.
 */
export function checkSessionOnLeader(
  record: LeaderRecord,
  server: { address: string | null; inRecovery: boolean },
  ctx: { scope: string; host: string },
): void {
  const moving = (why: string) =>
    new OperationFailed(
      'E_LEADER_MOVED',
      `${why}; nothing was snapshotted`,
      { member: record.member, scope: ctx.scope },
      {
        hint: `Leadership is changing. Check the cluster (postgres-ops status) and run the snapshot again.`,
      },
    );
  if (server.inRecovery)
    throw moving(`the server reached through ${ctx.host} is a replica, not the leader ${record.member}`);
  if (record.ip && server.address && record.ip !== server.address)
    throw moving(
      `the server reached through ${ctx.host} is ${server.address}, but Endpoints ${ctx.scope} name ${record.member} at ${record.ip} as the leader`,
    );
}
