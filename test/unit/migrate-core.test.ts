import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SafetyRefusal, UsageError } from '../../src/core/errors.js';
import {
  checkNoTransactionControl,
  prepareFiles,
  versionChecksum,
  type MigrationFile,
} from '../../src/core/migrate/files.js';
import { planMigration, type AppliedVersion } from '../../src/core/migrate/plan.js';
import {
  errorLocation,
  lineColumnAt,
  positionToIndex,
  splitStatements,
} from '../../src/core/migrate/sql-text.js';
import { migrationJobName, parseMigrationVersion } from '../../src/core/migrate/version.js';
import { statementsOf } from '../../src/runtime/migrate/apply.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

const files = (...pairs: [string, string][]): MigrationFile[] =>
  pairs.map(([name, text]) => ({ name, text }));

describe('migration versions', () => {
  it('accepts the guide version 2.0.0 and keeps it as the Job name suffix', () => {
    assert.equal(parseMigrationVersion(' 2.0.0 '), '2.0.0');
    assert.equal(
      migrationJobName('pyairtable-stack-postgres', '2.0.0'),
      'pyairtable-stack-postgres-migration-2.0.0',
    );
  });

  it('refuses versions that could escape the migrations directory or are empty (exit 2)', () => {
    for (const bad of ['', undefined, '../etc', '2.0/1', '..', '.hidden', 'a b', '-x']) {
      assert.throws(
        () => parseMigrationVersion(bad),
        (e: unknown) => e instanceof UsageError && e.exitCode === 2,
        String(bad),
      );
    }
  });

  it('lowercases, replaces odd characters and trims the Job name so pod names fit in 63', () => {
    assert.equal(migrationJobName('rel-postgres', 'V2_Users'), 'rel-postgres-migration-v2-users');
    const long = migrationJobName(
      'a-very-long-release-name-postgres',
      '2026.11.25_add_user_management_tables',
    );
    assert.ok(long.length <= 57, long);
    assert.match(long, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });
});

describe('migration files', () => {
  it('orders files by name and ignores nothing the caller passed', () => {
    const p = prepareFiles('1', files(['002_b.sql', 'B'], ['001_a.sql', 'A'], ['010_c.sql', 'C']), '/m/1');
    assert.deepEqual(
      p.map((f) => f.name),
      ['001_a.sql', '002_b.sql', '010_c.sql'],
    );
  });

  it('refuses an empty version with a hint naming where the files go', () => {
    assert.throws(
      () => prepareFiles('2.0.0', [], '/migrations/2.0.0'),
      (e: unknown) => e instanceof UsageError && /files\/migrations\/2\.0\.0/.test(e.hint ?? ''),
    );
  });

  it('gives the same checksum for the same files in any order and a different one for any edit or rename', () => {
    const a = versionChecksum(prepareFiles('1', files(['001.sql', 'x'], ['002.sql', 'y']), 'd'));
    const b = versionChecksum(prepareFiles('1', files(['002.sql', 'y'], ['001.sql', 'x']), 'd'));
    assert.equal(a, b);
    assert.notEqual(a, versionChecksum(prepareFiles('1', files(['001.sql', 'x '], ['002.sql', 'y']), 'd')));
    assert.notEqual(a, versionChecksum(prepareFiles('1', files(['001.sql', 'x'], ['003.sql', 'y']), 'd')));
    assert.notEqual(a, versionChecksum(prepareFiles('1', files(['001.sql', 'xy'], ['002.sql', '']), 'd')));
  });

  it('marks a file whose first line is the no-transaction marker and requires it to sort last', () => {
    const ok = prepareFiles(
      '1',
      files(
        ['001.sql', 'create table t()'],
        ['900_idx.sql', '-- pgops:no-transaction\ncreate index concurrently i on t(x)'],
      ),
      'd',
    );
    assert.deepEqual(
      ok.map((f) => f.noTransaction),
      [false, true],
    );
    assert.throws(
      () =>
        prepareFiles(
          '1',
          files(['001_idx.sql', '-- pgops:no-transaction\nselect 1'], ['002.sql', 'select 2']),
          'd',
        ),
      (e: unknown) => e instanceof UsageError && /001_idx\.sql runs outside/.test(e.message),
    );
  });

  it('refuses BEGIN or COMMIT inside a transactional file but allows them in dollar quotes and ROLLBACK TO', () => {
    const bad = prepareFiles('1', files(['001.sql', 'create table t();\n-- done\nCOMMIT;']), 'd');
    assert.throws(
      () => checkNoTransactionControl(bad, statementsOf),
      (e: unknown) => e instanceof UsageError && /001\.sql contains COMMIT/.test(e.message),
    );
    const good = prepareFiles(
      '1',
      files(['001.sql', "do $$ begin perform 1; end $$;\nsavepoint s; rollback to s;\nselect 'commit;';"]),
      'd',
    );
    checkNoTransactionControl(good, statementsOf);
  });
});

describe('migration plan', () => {
  const shipped = prepareFiles(
    '2.0.0',
    files(['001_users.sql', 'create table u()'], ['002_roles.sql', 'create table r()']),
    'd',
  );
  const applied = (over: Partial<AppliedVersion> = {}): AppliedVersion => ({
    version: '2.0.0',
    checksum: versionChecksum(shipped),
    files: shipped.map((f) => ({ name: f.name, sha256: f.sha256 })),
    state: 'applied',
    appliedAt: '2026-11-25T02:00:00Z',
    ...over,
  });

  it('applies every file of a version that was never applied', () => {
    const p = planMigration('2.0.0', shipped, undefined);
    assert.equal(p.action, 'apply');
    assert.ok(p.files.every((f) => f.run));
  });

  it('does nothing for a version applied with the same checksum', () => {
    const p = planMigration('2.0.0', shipped, applied());
    assert.equal(p.action, 'none');
    assert.ok(p.files.every((f) => !f.run));
  });

  it('refuses (exit 3) a version applied from different files and names the changed file', () => {
    const edited = prepareFiles(
      '2.0.0',
      files(
        ['001_users.sql', 'create table u()'],
        ['002_roles.sql', 'create table r(x int)'],
        ['003_x.sql', ''],
      ),
      'd',
    );
    assert.throws(
      () => planMigration('2.0.0', edited, applied()),
      (e: unknown) =>
        e instanceof SafetyRefusal &&
        e.exitCode === 3 &&
        /002_roles\.sql \(changed\)/.test(e.message) &&
        /003_x\.sql \(added\)/.test(e.message) &&
        /new version/.test(e.hint ?? ''),
    );
  });

  it('resumes only the no-transaction files of a partially applied version, even after one was fixed', () => {
    const idx = (text: string) =>
      prepareFiles(
        '3',
        files(['001.sql', 'create table t(x int)'], ['900.sql', `-- pgops:no-transaction\n${text}`]),
        'd',
      );
    const failed = idx('create index concurrently i on t(y)');
    const partial: AppliedVersion = {
      version: '3',
      checksum: versionChecksum(failed),
      files: failed.map((f) => ({ name: f.name, sha256: f.sha256, noTransaction: f.noTransaction })),
      state: 'partial',
      appliedAt: '2026-11-25T02:00:00Z',
    };
    const same = planMigration('3', failed, partial);
    assert.equal(same.action, 'resume');
    assert.deepEqual(
      same.files.map((f) => f.run),
      [false, true],
    );
    const fixed = planMigration('3', idx('create index concurrently if not exists i on t(x)'), partial);
    assert.equal(fixed.action, 'resume');
    assert.notEqual(fixed.checksum, partial.checksum);
    const txChanged = prepareFiles(
      '3',
      files(['001.sql', 'create table t(x bigint)'], ['900.sql', '-- pgops:no-transaction\nselect 1']),
      'd',
    );
    assert.throws(
      () => planMigration('3', txChanged, partial),
      (e: unknown) => e instanceof SafetyRefusal && /001\.sql \(changed\)/.test(e.message),
    );
  });
});

describe('SQL text', () => {
  it('turns an error position into line and column, counting characters not bytes', () => {
    const text = 'create table a();\r\n-- é 😀\nselect nope;';
    const idx = text.indexOf('nope');
    const charPos = Array.from(text.slice(0, idx)).length + 1;
    assert.equal(positionToIndex(text, charPos), idx);
    assert.deepEqual(lineColumnAt(text, idx), { line: 3, column: 8 });
  });

  it('maps a position inside a statement that starts later in the file', () => {
    const text = 'select 1;\n\nselect\n  bad_column from t;';
    const [, second] = splitStatements(text);
    assert.equal(second!.text, 'select\n  bad_column from t');
    assert.deepEqual(errorLocation(text, 10, second!.offset), { line: 4, column: 3 });
  });

  it('splits at top-level semicolons only, skipping strings, identifiers, comments and dollar quotes', () => {
    const sql = [
      "insert into t values ('a;b', E'c\\';d');",
      'create table "x;y" (id int);',
      '/* one; /* nested; */ still */ select 1;',
      '-- comment; here',
      'create function f() returns int language plpgsql as $fn$ begin return 1; end $fn$;',
      'select $1;',
      '-- trailing comment only',
    ].join('\n');
    const st = splitStatements(sql);
    assert.equal(st.length, 5, JSON.stringify(st));
    assert.match(st[3]!.text, /\$fn\$ begin return 1; end \$fn\$$/);
    assert.equal(sql.slice(st[1]!.offset, st[1]!.offset + 12), 'create table');
    // A leading comment is not part of the statement, so a statement's line is where its SQL starts.
    const [only] = splitStatements(
      '-- pgops:no-transaction\n/* why */\nCREATE INDEX CONCURRENTLY i ON t (x);\n',
    );
    assert.equal(only!.text, 'CREATE INDEX CONCURRENTLY i ON t (x)');
    assert.deepEqual(lineColumnAt('-- pgops:no-transaction\n/* why */\nCREATE', only!.offset), {
      line: 3,
      column: 1,
    });
  });
});
