/**
 * The data volume's fill level in the member's snapshot, and a full volume reported as what it is
 * (which volume, how to grow it) instead of a crash loop.
 */
import type { AgentConfig } from '../../core/config/schema.js';
import { fullDiskMessage, type HealthSnapshot } from '../../core/instance/health.js';
import type { Logger } from '../log.js';
import { volumeStats } from './datadir.js';

const FULL_DISK_FREE_BYTES = 1024 * 1024;

export class DiskWatch {
  private noSpaceAt = 0;
  private lastFullDiskLog = 0;

  constructor(
    private readonly log: Logger,
    /** The member's snapshot and how to change its phase (the supervisor's). */
    private readonly snapshot: HealthSnapshot,
    private readonly setPhase: (phase: HealthSnapshot['phase'], reason?: string) => void,
  ) {}

  /** PostgreSQL or Patroni logged "No space left on device". */
  noteNoSpace() {
    this.noSpaceAt = Date.now();
  }

  /** Not a crash loop: say plainly which volume is full and how to grow it; Patroni restarts PostgreSQL once it can. */
  check(config: Pick<AgentConfig, 'instance'>, pgdata: string) {
    const s = this.snapshot;
    let disk;
    try {
      disk = volumeStats(pgdata);
    } catch {
      return;
    }
    s.diskUsedPercent = Number(disk.usedPercent.toFixed(1));
    const recentNoSpace = Date.now() - this.noSpaceAt < 60_000;
    const full = disk.freeBytes < FULL_DISK_FREE_BYTES || (recentNoSpace && !s.accepting);
    if (!full) {
      if (s.phase === 'disk-full') {
        this.log.info('the data volume has space again', { usedPercent: s.diskUsedPercent });
        this.setPhase(s.accepting ? 'running' : 'starting');
      }
      return;
    }
    const { message, command } = fullDiskMessage({
      pvc: config.instance.dataPvc,
      dataDir: pgdata,
      usedPercent: disk.usedPercent,
      sizeBytes: disk.sizeBytes,
    });
    this.setPhase('disk-full', message);
    if (Date.now() - this.lastFullDiskLog > 30_000) {
      this.lastFullDiskLog = Date.now();
      this.log.error(message, {
        pvc: config.instance.dataPvc ?? null,
        usedPercent: s.diskUsedPercent,
        freeBytes: disk.freeBytes,
        command,
      });
    }
  }
}
