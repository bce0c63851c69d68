/**
 * The image cannot be built here (no Docker), so its Dockerfile is checked against what the chart
 * expects, and its launchers are run against the locally built dist/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { cleanupAll } from '../support/cleanup.js';
import { tempDir } from '../support/tmp.js';
import { agentMain, chartDir, repoRoot } from '../support/tools.js';

after(cleanupAll);

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');

describe('Dockerfile', () => {
  it('builds on the official PostgreSQL 16 image and runs postgres-agent as uid 999', () => {
    assert.match(dockerfile, /^FROM postgres:16-bookworm$/m);
    assert.match(dockerfile, /^COPY --from=node:20-bookworm-slim \/usr\/local\/bin\/node /m);
    assert.match(dockerfile, /^USER 999(:999)?$/m);
    assert.match(dockerfile, /^ENTRYPOINT \["postgres-agent"\]$/m);
    assert.match(dockerfile, /npm prune --omit=dev/);
  });

  it('matches the chart default image: repository in values, tag from appVersion', () => {
    const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
    const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8'));
    assert.equal(values.databases.postgres.image.repository, 'ghcr.io/pyairtable/postgres-agent');
    assert.equal(values.databases.postgres.image.tag, '');
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    assert.equal(
      chart.appVersion,
      pkg.version,
      'the image built from this package is tagged with appVersion',
    );
  });

  it('installs launchers that start the built entry points with their arguments', () => {
    assert.ok(existsSync(agentMain), `build first: npm run build (${agentMain} missing)`);
    const launchers = [
      ...dockerfile.matchAll(/printf '(#!\/bin\/sh\\nexec [^']+)' > (\/usr\/local\/bin\/[\w-]+)/g),
    ];
    assert.deepEqual(
      launchers.map((m) => m[2]),
      ['/usr/local/bin/postgres-agent', '/usr/local/bin/postgres-ops'],
    );
    const dir = tempDir('launchers');
    for (const [, script, target] of launchers) {
      // The image's /opt/pgops holds package.json, node_modules and dist: the repository has the same layout.
      const text = script!
        .replace(/\\n/g, '\n')
        .replaceAll('/opt/pgops', repoRoot)
        .replace('/usr/local/bin/node', process.execPath);
      const file = join(dir, target!.split('/').pop()!);
      writeFileSync(file, text, { mode: 0o755 });
      const help = execFileSync('/bin/sh', [file, '--help'], { encoding: 'utf8' });
      assert.match(help, target!.endsWith('agent') ? /instance/ : /Usage: postgres-ops/);
    }
  });

  it('keeps build context small and free of local state', () => {
    const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', '.git', '.tools', '.postgres-ops'])
      assert.ok(ignore.includes(entry), entry);
  });
});
