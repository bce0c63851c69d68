/**
 * Re-cloning a replica that can never catch up by itself: one that keeps asking for WAL the primary
 * removed (and no archive holds), or one that replayed WAL the leader's timeline does not have.
 * Fed by Patroni's and PostgreSQL's log lines; acts through Patroni's /reinitialize.
 */
import type { ClassifiedLine } from '../../core/ha/log-lines.js';
import type { HealthSnapshot } from '../../core/instance/health.js';
import type { PatroniApi } from '../ha/patroni-api.js';
import type { Logger } from '../log.js';
import type { MemberArchive } from '../pitr/member-archive.js';

/** A replica that keeps asking for removed WAL this long is re-cloned (when no archive can feed it). */
export const LOST_WAL_GRACE_MS = 20_000;
const REINIT_COOLDOWN_MS = 5 * 60_000;

export class ReplicaHealer {
  private lostWal: { first: number; last: number; segment: string } | undefined;
  private diverged: { first: number; last: number } | undefined;
  private lastReinit = 0;
  private lastArchiveNote = 0;
  private lastHoldsCheck = { at: 0, segment: '', holds: false };

  constructor(
    private readonly api: PatroniApi,
    private readonly archive: MemberArchive,
    private readonly log: Logger,
    /** The member's snapshot and how to change its phase (the supervisor's). */
    private readonly snapshot: HealthSnapshot,
    private readonly setPhase: (phase: HealthSnapshot['phase'], reason?: string) => void,
  ) {}

  /** Remembers what a log line says about lost or diverged WAL. */
  note(c: ClassifiedLine) {
    if (c.lostWalSegment) {
      const now = Date.now();
      if (!this.lostWal || now - this.lostWal.last > LOST_WAL_GRACE_MS * 3)
        this.lostWal = { first: now, last: now, segment: c.lostWalSegment };
      else this.lostWal.last = now;
    }
    if (c.diverged) {
      const now = Date.now();
      if (!this.diverged || now - this.diverged.last > LOST_WAL_GRACE_MS * 3)
        this.diverged = { first: now, last: now };
      else this.diverged.last = now;
    }
  }

  /**
   * A replica asking for WAL the primary already removed never catches up by itself when no archive
   * can feed it: Patroni's /readiness stays green while it falls further behind. Re-clone it.
   */
  async healLostWal() {
    const lw = this.lostWal;
    if (!lw || !this.stuck(lw)) return;
    // With an archive that holds the segment, restore_command feeds the replica: no re-clone.
    if (Date.now() - this.lastHoldsCheck.at > 30_000 || this.lastHoldsCheck.segment !== lw.segment)
      this.lastHoldsCheck = {
        at: Date.now(),
        segment: lw.segment,
        holds: await this.archive.holds(lw.segment),
      };
    if (this.lastHoldsCheck.holds) {
      if (Date.now() - this.lastArchiveNote > 60_000) {
        this.lastArchiveNote = Date.now();
        this.log.info(
          `this replica needs WAL segment ${lw.segment}, which the primary has removed; it reads it from the archive and catches up by itself`,
        );
      }
      return;
    }
    if (
      await this.reclone(
        `this replica needs WAL segment ${lw.segment}, which the primary has removed (it fell further behind than max_slot_wal_keep_size allows) and no archive can provide: cloning it again from the leader`,
        `re-cloning after losing WAL segment ${lw.segment}`,
      )
    )
      this.lostWal = undefined;
  }

  /**
   * After an asynchronous failover a replica can replay, from the WAL archive, what the old primary
   * wrote and archived before it died but the new leader never received: it is then ahead of the
   * leader's timeline switch and can never follow it (Patroni 3.0.2 does not rewind a replica).
   * Re-clone it, as for lost WAL.
   */
  async healDiverged() {
    const d = this.diverged;
    if (!d || !this.stuck(d)) return;
    if (
      await this.reclone(
        "this replica replayed WAL that the leader's timeline does not have (the old primary's, archived before a failover): it cannot follow the leader; cloning it again from the leader",
        're-cloning a replica that diverged from the leader',
      )
    )
      this.diverged = undefined;
  }

  /** Not streaming, the sign seen for the whole grace period and lately, and no re-clone just now. */
  private stuck(seen: { first: number; last: number }): boolean {
    if (this.snapshot.walReceiverStatus === 'streaming') return false;
    if (Date.now() - seen.last > 10_000 || seen.last - seen.first < LOST_WAL_GRACE_MS) return false;
    return Date.now() - this.lastReinit >= REINIT_COOLDOWN_MS;
  }

  /** Asks Patroni to clone this member again from the leader; true when it accepted. */
  private async reclone(warning: string, phaseReason: string): Promise<boolean> {
    this.lastReinit = Date.now();
    this.log.warn(warning);
    const answer = await this.api.call('POST', '/reinitialize', { force: true }).catch((e: Error) => ({
      status: 0,
      body: e.message,
    }));
    if (answer.status === 200) {
      this.setPhase('reinitializing', phaseReason);
      return true;
    }
    this.log.error(`re-clone request refused: ${answer.status} ${String(answer.body)}`);
    return false;
  }
}
