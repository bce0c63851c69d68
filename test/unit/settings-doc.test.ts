/** docs/settings.md is generated from the settings table and the modules that read each setting. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderSettingsDoc, settingsDocPath } from '../../scripts/settings-doc.js';

describe('settings page', () => {
  const doc = renderSettingsDoc();

  it('docs/settings.md lists every setting as the table and the code have it (npx tsx scripts/settings-doc.ts)', () => {
    assert.equal(readFileSync(settingsDocPath, 'utf8'), doc);
  });

  it('names, for a setting, the chart value, the variable, the config path and its readers', () => {
    const line = doc.split('\n').find((l) => l.includes('`PGOPS_BACKUP_RETENTION_DAYS`'));
    assert.ok(line);
    assert.match(
      line,
      /^\| `databases\.postgres\.backup\.retentionDays` \| `PGOPS_BACKUP_RETENTION_DAYS` \| `config\.backup\.retentionDays` \| .*`src\/agent\/commands\/prune\.ts`/,
    );
  });
});
