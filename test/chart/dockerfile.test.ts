/**
 * The image cannot be built here (no Docker), so its Dockerfile is checked against what the chart
 * expects, and its launchers are run against the locally built dist/.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { cleanupAll } from '../support/cleanup.js';
import { tempDir } from '../support/tmp.js';
import { findPgBinDir } from '../../src/runtime/pgbin.js';
import { agentMain, chartDir, postgresExporterPath, repoRoot } from '../support/tools.js';
import { containersOf, pods, render, toggles } from './render.js';

after(cleanupAll);

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');

/** The default of an ARG of the Dockerfile. */
function arg(name: string): string {
  const m = new RegExp(`^ARG ${name}=(\\S+)$`, 'm').exec(dockerfile);
  assert.ok(m, `Dockerfile has no ARG ${name}=...`);
  return m[1]!;
}

/** What the tests run, asked of this machine's programs and packages. */
function installed(pkg: string): string {
  return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).trim();
}

describe('Dockerfile', () => {
  it('installs the PostgreSQL major the tests run', () => {
    const tested = /\(PostgreSQL\) (\d+)\./.exec(
      execFileSync(join(findPgBinDir(), 'postgres'), ['--version'], { encoding: 'utf8' }),
    )?.[1];
    assert.equal(arg('PG_MAJOR'), tested);
    assert.match(dockerfile, /"postgresql-\$\{PG_MAJOR\}"/);
    assert.doesNotMatch(
      dockerfile,
      /postgres:1\d|postgresql-1\d/,
      'no PostgreSQL major written out anywhere else',
    );
  });

  it('installs the Patroni and pgBackRest packages the tests run, and checks them while building', () => {
    assert.equal(arg('PATRONI_VERSION'), installed('patroni'));
    assert.equal(arg('PGBACKREST_VERSION'), installed('pgbackrest'));
    assert.match(dockerfile, /"patroni=\$\{PATRONI_VERSION\}" "pgbackrest=\$\{PGBACKREST_VERSION\}"/);
    assert.match(dockerfile, /patroni --version \| grep -q/);
    assert.match(dockerfile, /pgbackrest version \| grep -q/);
  });

  it('builds from base images pinned by a digest the build takes, never a moving tag', () => {
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
    assert.ok(froms.length >= 2);
    for (const from of froms) assert.match(from, /^\$\{[A-Z_]+_IMAGE\}@\$\{[A-Z_]+_DIGEST\}$/, from);
    // The digests have no default: a build without them stops instead of taking whatever is current.
    for (const name of ['DEBIAN_DIGEST', 'NODE_DIGEST'])
      assert.match(dockerfile, new RegExp(`^ARG ${name}$`, 'm'));
    assert.equal(arg('DEBIAN_IMAGE'), 'debian:bookworm-slim');
    assert.equal(arg('NODE_IMAGE'), 'node:20-bookworm-slim');
  });

  it('runs postgres-agent under tini as uid 999, the uid named postgres in the image', () => {
    assert.match(dockerfile, /useradd --system --uid 999 --gid 999 .* postgres;/);
    assert.match(dockerfile, /^USER 999:999$/m);
    assert.match(dockerfile, /^ENTRYPOINT \["tini", "--", "postgres-agent"\]$/m);
    assert.match(dockerfile, /\btini\b.*ca-certificates/);
    assert.match(dockerfile, /npm prune --omit=dev/);
    // The chart overrides the entry point with the same command, in every container of the image.
    const entry = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!);
    for (const pod of pods(render(toggles.replication!)))
      for (const c of containersOf(pod.spec))
        if (
          String(c.image).startsWith('ghcr.io/pyairtable/postgres-agent:') &&
          c.command?.includes('postgres-agent')
        )
          assert.deepEqual(c.command, entry, `${pod.owner} ${c.name}`);
  });

  it('runs the metrics sidecar at the postgres_exporter version the tests run the chart queries with', () => {
    const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
    const image: string = values.databases.postgres.monitoring.exporter.image;
    // It prints its version on stderr.
    const v = spawnSync(postgresExporterPath(), ['--version'], { encoding: 'utf8' });
    const tested = /version (\d+\.\d+\.\d+)/.exec(`${v.stdout}${v.stderr}`)?.[1];
    assert.ok(tested, `no version in: ${v.stdout}${v.stderr}`);
    assert.equal(image, `quay.io/prometheuscommunity/postgres-exporter:v${tested}`);
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
