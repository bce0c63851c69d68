import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diskUsage, diskUsageFromDf } from '../../src/core/disk-usage.js';

describe('disk usage', () => {
  it("counts root's reserved blocks neither as used nor as available", () => {
    // 100 blocks: 20 in files, 80 free of which 50 are reserved for root: 30 left for PostgreSQL.
    const u = diskUsage({ bsize: 4096, blocks: 100, bfree: 80, bavail: 30 });
    assert.deepEqual(u, {
      usedBytes: 20 * 4096,
      availableBytes: 30 * 4096,
      capacityBytes: 50 * 4096,
      usedPercent: 40,
    });
  });

  it('is 100% exactly when PostgreSQL can write nothing more, though root still could', () => {
    assert.equal(diskUsage({ bsize: 1, blocks: 100, bfree: 5, bavail: 0 }).usedPercent, 100);
    assert.equal(diskUsage({ bsize: 1, blocks: 100, bfree: 6, bavail: 1 }).usedPercent, 98.9);
  });

  it('reads the same from df columns (size, used, available) as from statfs', () => {
    assert.deepEqual(
      diskUsageFromDf(409_600, 81_920, 122_880),
      diskUsage({ bsize: 4096, blocks: 100, bfree: 80, bavail: 30 }),
    );
  });

  it('gives one decimal, and 0% for an empty or unreadable volume', () => {
    assert.equal(diskUsage({ bsize: 1, blocks: 3, bfree: 2, bavail: 2 }).usedPercent, 33.3);
    assert.equal(diskUsage({ bsize: 1, blocks: 0, bfree: 0, bavail: 0 }).usedPercent, 0);
  });
});
