/**
 * How full a volume is, one definition for every place that says so (the agent's /status and its
 * full-disk state, `status` in both modes, the chart's alerts): the share of what PostgreSQL, a
 * non-root user, can use that is used. Blocks reserved for root (ext4 keeps 5% by default, some
 * hosts far more) are neither used by PostgreSQL nor available to it, so they count on no side:
 *
 *   used      = (blocks - bfree) * bsize     what files take
 *   available = bavail * bsize               what a non-root writer may still take
 *   capacity  = used + available             the volume as PostgreSQL sees it
 *   usedPercent = 100 * used / capacity      100% exactly when PostgreSQL can write nothing more
 *
 * This is `df`'s Use% (before df rounds it up) and kubelet's volume stats
 * (used / (used + available)). Counting the reserve as used (1 - bavail/blocks) says a volume with
 * a large reserve is full long before PostgreSQL runs out; counting it as free (1 - bfree/blocks)
 * says there is room PostgreSQL can never write to.
 */
export interface FsBlocks {
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
}

export interface DiskUsage {
  capacityBytes: number;
  usedBytes: number;
  availableBytes: number;
  /** One decimal. */
  usedPercent: number;
}

export function diskUsage(s: FsBlocks): DiskUsage {
  const usedBytes = Math.max(0, s.blocks - s.bfree) * s.bsize;
  const availableBytes = Math.max(0, s.bavail) * s.bsize;
  const capacityBytes = usedBytes + availableBytes;
  const usedPercent = capacityBytes > 0 ? Math.round((usedBytes / capacityBytes) * 1000) / 10 : 0;
  return { capacityBytes, usedBytes, availableBytes, usedPercent };
}

/** The same figures from `df -P -B1` columns (size, used, available), as read inside a pod. */
export function diskUsageFromDf(size: number, used: number, available: number): DiskUsage {
  return diskUsage({ bsize: 1, blocks: size, bfree: size - used, bavail: available });
}
