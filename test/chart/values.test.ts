/**
 * Values are documented and checked: a wrong type, an unknown key or contradictory settings fail
 * `helm template`/`helm install` with a message naming the key; every value has a `## @param` line
 * and the README table is current.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { cleanupAll } from '../support/cleanup.js';
import { chartDir, repoRoot } from '../support/tools.js';
import { helmRun, templateArgs } from './render.js';
import { resolveSchema } from './values-schema.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- values and schema are untyped JSON */

const set = (...pairs: string[]) => pairs.flatMap((p) => ['--set', `databases.postgres.${p}`]);

function failsWith(args: string[], ...patterns: RegExp[]) {
  const r = helmRun(templateArgs(args));
  assert.equal(r.ok, false, `helm template ${args.join(' ')} should fail`);
  for (const p of patterns) assert.match(r.stderr, p);
}

describe('bad values fail with a message naming the key', () => {
  it('refuses retentionDays=seven', () =>
    failsWith(
      set('backup.retentionDays=seven'),
      /databases\/postgres\/backup\/retentionDays/,
      /want integer/,
    ));

  it('refuses backup.jobs=0 and a number of jobs that is not whole', () => {
    failsWith(set('backup.jobs=0'), /databases\/postgres\/backup\/jobs/, /minimum/);
    failsWith(set('backup.jobs=1.5'), /databases\/postgres\/backup\/jobs/);
  });

  it('refuses an unknown key under databases.postgres', () =>
    failsWith(set('backup.retentionDayz=7'), /databases\/postgres\/backup/, /retentionDayz/));

  it('refuses a misspelt group', () => failsWith(set('snapshot.enabled=true'), /'snapshot' not allowed/));

  it('refuses negative replicas', () =>
    failsWith(
      set('replication.enabled=true', 'replication.replicas=-1'),
      /replication\/replicas/,
      /minimum/,
    ));

  it('refuses an unknown cross-region provider', () =>
    failsWith(set('crossRegion.provider=dropbox'), /crossRegion\/provider/));

  it('refuses a schedule that is not cron', () =>
    failsWith(set('backup.schedule=daily'), /backup\/schedule/));

  it('refuses a size that is not a quantity', () =>
    failsWith(set('persistence.size=lots'), /persistence\/size/));

  it('refuses restore.enabled with none of backupFile, targetTime and latest, saying what to set', () =>
    failsWith(
      set('restore.enabled=true'),
      /none of databases\.postgres\.restore\.backupFile, restore\.targetTime or restore\.latest is set/,
      /list-backups/,
      /--set databases\.postgres\.restore\.targetTime=2026-11-30T14:02:59\+00:00/,
    ));

  it('refuses more than one restore target at once, naming the three', () => {
    for (const both of [
      set('restore.backupFile=/backups/postgres/b.dump', 'restore.targetTime=2026-11-30T14:02:59+00:00'),
      set('restore.backupFile=/backups/postgres/b.dump', 'restore.latest=true'),
      set('restore.targetTime=2026-11-30T14:02:59+00:00', 'restore.latest=true'),
    ])
      failsWith(
        [...set('restore.enabled=true', 'pitr.enabled=true'), ...both],
        /databases\.postgres\.restore: set only one of backupFile, targetTime and latest/,
        /--set databases\.postgres\.restore\.backupFile=""/,
      );
  });

  it('says which restore targets are set when more than one is (a value kept by --reuse-values is easy to miss)', () => {
    failsWith(
      set(
        'restore.enabled=true',
        'pitr.enabled=true',
        'restore.backupFile=/backups/postgres/b.dump',
        'restore.latest=true',
      ),
      /now set: backupFile, latest\./,
    );
    failsWith(
      set(
        'restore.enabled=true',
        'pitr.enabled=true',
        'restore.backupFile=/backups/postgres/b.dump',
        'restore.targetTime=2026-11-30T14:02:59+00:00',
        'restore.latest=true',
      ),
      /now set: backupFile, targetTime, latest\./,
    );
  });

  it('refuses a whole-cluster restore without PITR, saying to enable it and that the archive must hold the target', () => {
    failsWith(
      set('restore.enabled=true', 'restore.targetTime=2026-11-30T14:02:59+00:00'),
      /databases\.postgres\.restore\.targetTime restores the whole cluster from the WAL archive, but databases\.postgres\.pitr\.enabled is false/,
      /set databases\.postgres\.pitr\.enabled=true/,
      /the archive must already hold the target/,
    );
    failsWith(
      set('restore.enabled=true', 'restore.latest=true'),
      /databases\.postgres\.restore\.latest restores the whole cluster/,
      /set databases\.postgres\.pitr\.enabled=true/,
    );
  });

  it('refuses a targetTime that is not RFC 3339 with an offset, even with the restore off', () => {
    for (const bad of ['yesterday', '2026-11-30', '2026-11-30T14:02:59', '30/11/2026 14:02:59+00:00'])
      failsWith(
        set('pitr.enabled=true', `restore.targetTime=${bad}`),
        /databases\/postgres\/restore\/targetTime/,
        /does not match pattern/,
      );
  });

  it('accepts a targetTime in UTC, with an offset, fractional seconds or a space for T', () => {
    for (const good of [
      '2026-11-30T14:02:59Z',
      '2026-11-30T14:02:59+01:00',
      '2026-11-30T14:02:59.250-0500',
      '2026-11-30 14:02:59+00:00',
    ]) {
      const r = helmRun(
        templateArgs(set('pitr.enabled=true', 'restore.enabled=true', `restore.targetTime=${good}`)),
      );
      assert.equal(r.ok, true, `${good}: ${r.stderr}`);
    }
  });

  it('refuses crossRegion.enabled without a bucket', () =>
    failsWith(set('crossRegion.enabled=true'), /databases\.postgres\.crossRegion\.bucket is empty/));

  it('refuses Azure copies without a credentials Secret', () =>
    failsWith(
      set('crossRegion.enabled=true', 'crossRegion.provider=azure', 'crossRegion.bucket=c'),
      /databases\.postgres\.crossRegion\.credentialsSecret is empty/,
    ));

  it('refuses migration.enabled without a version', () =>
    failsWith(set('migration.enabled=true'), /databases\.postgres\.migration\.version/));

  it('refuses TLS without a certificate Secret', () =>
    failsWith(set('tls.enabled=true'), /databases\.postgres\.tls\.existingSecret is empty/));

  it('refuses a postgresql parameter the agent owns', () =>
    failsWith(
      set('postgresql.parameters.port=5433'),
      /databases\.postgres\.postgresql\.parameters\.port is set by postgres-agent/,
    ));

  it('refuses a pg_hba line without a password', () =>
    failsWith(
      set('postgresql.extraHba[0]=host all all 0.0.0.0/0 trust'),
      /databases\.postgres\.postgresql\.extraHba\[0\] uses trust/,
    ));

  it('refuses a misspelt key at the root of the values', () =>
    failsWith(['--set', 'databasez.postgres.enabled=true'], /'databasez' not allowed/));

  it('refuses a misspelt database under databases (databases.postgress)', () =>
    failsWith(['--set', 'databases.postgress.enabled=true'], /'postgress' not allowed/));

  it('accepts the global values an umbrella chart passes down', () => {
    const r = helmRun(templateArgs(['--set', 'global.imageRegistry=registry.example.com']));
    assert.equal(r.ok, true, r.stderr);
  });

  it('refuses a failover mode other than automatic or manual', () =>
    failsWith(set('replication.failover=auto'), /replication\/failover/));

  it('refuses Patroni timings that could lose the lease while retrying', () =>
    failsWith(
      set('replication.ttl=20', 'replication.loopWait=10', 'replication.retryTimeout=10'),
      /loopWait \(10\) \+ 2 x retryTimeout \(10\) exceeds ttl \(20\)/,
    ));

  it('refuses a plain host pg_hba line while TLS is enforced, and accepts it as hostssl', () => {
    failsWith(
      set(
        'tls.enabled=true',
        'tls.existingSecret=postgres-tls',
        'postgresql.extraHba[0]=host all all 10.0.0.0/8 scram-sha-256',
      ),
      /extraHba\[0\] is a host line while databases\.postgres\.tls\.enabled is true/,
    );
    const r = helmRun(
      templateArgs(
        set(
          'tls.enabled=true',
          'tls.existingSecret=postgres-tls',
          'postgresql.extraHba[0]=hostssl all all 10.0.0.0/8 scram-sha-256',
        ),
      ),
    );
    assert.equal(r.ok, true, r.stderr);
  });

  it('refuses replication enabled with zero replicas', () =>
    failsWith(
      set('replication.enabled=true', 'replication.replicas=0'),
      /replication\.replicas must be at least 1/,
    ));
});

describe('values documentation', () => {
  const text = readFileSync(join(chartDir, 'values.yaml'), 'utf8');
  const values = parse(text);
  const params = new Set([...text.matchAll(/^\s*## @param (\S+) \S/gm)].map((m) => m[1]!));
  const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'));

  it('has a @param line for every value (free-form maps are documented as a whole)', () => {
    const missing: string[] = [];
    const walk = (node: any, path: string) => {
      if (path && params.has(path)) return;
      const isMap =
        node !== null && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0;
      if (!isMap) {
        missing.push(path);
        return;
      }
      for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
    };
    walk(values, '');
    assert.deepEqual(missing, []);
  });

  it('documents only keys that exist', () => {
    const get = (path: string) =>
      path.split('.').reduce((o: any, k) => (o && typeof o === 'object' ? o[k] : undefined), values);
    assert.deepEqual(
      [...params].filter((p) => get(p) === undefined),
      [],
    );
  });

  it('gives every key the schema declares a default in values.yaml', () => {
    const missing: string[] = [];
    const resolve = (node: any): any => resolveSchema(node, schema);
    const walk = (node: any, value: any, path: string) => {
      node = resolve(node);
      if (node?.additionalProperties !== false || !node.properties) return;
      for (const [k, sub] of Object.entries<any>(node.properties)) {
        const v = value?.[k];
        if (v === undefined) missing.push(`${path}.${k}`);
        // An empty map is documented as a whole (e.g. resources: {} means "defaults").
        else if (!(typeof v === 'object' && v && Object.keys(v).length === 0)) walk(sub, v, `${path}.${k}`);
      }
    };
    walk(schema.properties.databases.properties.postgres, values.databases.postgres, 'databases.postgres');
    assert.deepEqual(missing, []);
  });

  it('keeps the chart README parameters table in step with values.yaml', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'chart-readme.mjs'), '--check'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  });
});
