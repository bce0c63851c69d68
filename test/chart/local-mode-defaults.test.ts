/** Local mode runs with the chart's defaults where it has no values file: they must not drift. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { LOCAL_BACKUP_RETENTION_DAYS } from '../../src/local/retention.js';
import { chartMigrationsDir } from '../../src/ops/commands/migrate.js';
import { chartDir } from '../support/tools.js';

const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as {
  databases: { postgres: { backup: { retentionDays: number } } };
};

describe("local mode and the chart's defaults", () => {
  it('keeps local backups as long as the chart does (backup.retentionDays)', () => {
    assert.equal(LOCAL_BACKUP_RETENTION_DAYS, values.databases.postgres.backup.retentionDays);
  });

  it("migrates from the chart's own migration files by default", () => {
    assert.equal(chartMigrationsDir(), join(chartDir, 'files', 'migrations'));
  });
});
