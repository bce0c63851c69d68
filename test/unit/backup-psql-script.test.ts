import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  isSingleStatement,
  PsqlScriptScanner,
  type ScriptFinding,
} from '../../src/core/backup/psql-script.js';
import { planGlobalsRestore } from '../../src/core/backup/globals.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

/** Every meta-command psql would run in `script` (whole text), pg_dump's \restrict lines excepted. */
function findMetaCommands(script: string): ScriptFinding[] {
  const scanner = new PsqlScriptScanner();
  const out: ScriptFinding[] = [];
  for (const line of script.split('\n')) out.push(...scanner.scanLine(line).findings);
  return out;
}

const commands = (script: string) => findMetaCommands(script).map((f) => [f.line, f.command, f.kind]);

describe('meta-commands in a plain SQL script', () => {
  it('finds a shell escape at the start of a line and names its line', () => {
    assert.deepEqual(commands('SELECT 1;\n\\! id > /tmp/x\nSELECT 2;\n'), [[2, '\\!', 'other']]);
  });

  it('finds meta-commands hidden in the middle of a line, after a statement or inside one', () => {
    assert.deepEqual(commands("SELECT 'a'; \\! id\n"), [[1, '\\!', 'other']]);
    assert.deepEqual(commands('SELECT 1 \\gexec\n'), [[1, '\\gexec', 'other']]);
    assert.deepEqual(commands('CREATE TABLE t (\n  a int \\i /etc/passwd\n);\n'), [[2, '\\i', 'other']]);
    assert.deepEqual(commands('SELECT 1;\\o |id\n'), [[1, '\\o', 'other']]);
  });

  it('tells \\connect and \\c apart from the other commands', () => {
    assert.deepEqual(commands('\\connect app\n\\c other\n\\copy t from x\n'), [
      [1, '\\connect', 'connect'],
      [2, '\\c', 'connect'],
      [3, '\\copy', 'other'],
    ]);
  });

  it("ignores backslashes inside strings, E'' strings, quoted identifiers, dollar quotes and comments", () => {
    const script = [
      "COMMENT ON TABLE t IS 'hi \\! there';",
      "SELECT E'it\\'s \\\\! not a command';",
      'CREATE TABLE public."we""ird\\" (x int);',
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; \\! no $body$;',
      'SELECT $$ \\! multi',
      'line \\! still quoted $$;',
      '-- \\! a comment',
      '/* outer /* nested \\! */ still \\! comment */ SELECT 1;',
      "SELECT U&'d\\0061t\\+000061';",
      'SELECT 1 \\; SELECT 2;',
      "SELECT :'var', 1::int;",
    ].join('\n');
    assert.deepEqual(commands(script), []);
  });

  it('treats lines of COPY ... FROM stdin data as data until \\., and scans again after it', () => {
    const script = [
      'COPY public.t (a, b) FROM stdin;',
      '1\t\\\\! id',
      '\\\\.',
      '\\N\tx',
      '\\.',
      '\\! id',
    ].join('\n');
    assert.deepEqual(commands(script), [[6, '\\!', 'other']]);
  });

  it('does not take COPY ... TO stdout, or FROM stdin inside a query or a string, for a data block', () => {
    assert.deepEqual(commands('COPY (SELECT 1 FROM stdin) TO stdout;\n\\! id\n'), [[2, '\\!', 'other']]);
    assert.deepEqual(commands("SELECT 'COPY t FROM stdin';\n\\! id\n"), [[2, '\\!', 'other']]);
    assert.deepEqual(commands('COPY t /* FROM stdin */ TO stdout;\n\\! id\n'), [[2, '\\!', 'other']]);
  });

  it('reads several data blocks started on one line one after the other', () => {
    const script = 'COPY a FROM stdin; COPY b FROM stdin;\n1\n\\.\n\\! in b is data\n\\.\n\\! id\n';
    assert.deepEqual(commands(script), [[6, '\\!', 'other']]);
  });

  it("accepts pg_dump's own \\restrict and \\unrestrict lines, and only as whole lines", () => {
    const scanner = new PsqlScriptScanner();
    assert.equal(scanner.scanLine('\\restrict AbC123').dumpRestrictLine, true);
    assert.equal(scanner.scanLine('SELECT 1;').dumpRestrictLine, false);
    assert.equal(scanner.scanLine('\\unrestrict AbC123\r').dumpRestrictLine, true);
    assert.deepEqual(commands('SELECT 1; \\restrict AbC123\n'), [[1, '\\restrict', 'other']]);
    assert.deepEqual(commands('\\restrict AbC123 ; \\! id\n'), [[1, '\\restrict', 'other']]);
  });

  it('follows standard_conforming_strings = off, where a backslash escapes the quote', () => {
    const line = "SELECT 'a\\' ; SELECT ' \\! id';";
    // With the setting on, \' ends the first string and \! sits in the second one.
    assert.deepEqual(commands(`${line}\n`), []);
    // Turned off, the first string runs up to the quote before \!, which psql then runs.
    assert.deepEqual(commands(`SET standard_conforming_strings = off;\n${line}\n`), [[2, '\\!', 'other']]);
    assert.deepEqual(commands(`SET standard_conforming_strings TO 'off';\nRESET ALL;\n${line}\n`), []);
  });

  it('says whether a line holds exactly one statement', () => {
    assert.equal(isSingleStatement('CREATE ROLE app;'), true);
    assert.equal(isSingleStatement('CREATE ROLE "a;b" WITH LOGIN;'), true);
    assert.equal(isSingleStatement("CREATE ROLE x; COPY (SELECT 1) TO PROGRAM 'id';"), false);
    assert.equal(isSingleStatement('CREATE ROLE x \\! id;'), false);
    assert.equal(isSingleStatement('CREATE ROLE x'), false);
  });
});

describe('globals restore plan', () => {
  it('leaves out a role line that carries a second statement', () => {
    const plan = planGlobalsRestore(
      "CREATE ROLE evil; COPY (SELECT 1) TO PROGRAM 'id > /tmp/x';\nCREATE ROLE fine;\nGRANT fine TO evil; SELECT pg_sleep(1);\n",
      new Set(),
    );
    assert.deepEqual(plan.statements, ['CREATE ROLE fine;']);
    assert.deepEqual(plan.createdRoles, ['fine']);
  });
});
