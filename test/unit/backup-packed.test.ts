import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  findPageCorruption,
  pageCorruptionError,
  parseRelationPath,
  pickCause,
  type PartFailure,
} from '../../src/core/backup/failure.js';
import {
  dataEntriesMissing,
  dataEntriesOfToc,
  parseTarHeader,
  tarHeader,
  tarPadding,
  tocArchiveFormat,
} from '../../src/core/backup/tar.js';
import { DamagedArchive, TarPacker, tarArchiveFormat, unpackDump } from '../../src/runtime/backup/packed.js';
import { cleanupAll } from '../support/cleanup.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

describe('packed dump archives', () => {
  it('writes ustar headers that read back, with base-256 sizes beyond 8 GiB', () => {
    const h = tarHeader('3342.dat.gz', 12345, 1_700_000_000);
    assert.deepEqual(parseTarHeader(h), { kind: 'file', name: '3342.dat.gz', size: 12345 });
    const big = 20 * 2 ** 30;
    assert.deepEqual(parseTarHeader(tarHeader('3343.dat.gz', big, 0)), {
      kind: 'file',
      name: '3343.dat.gz',
      size: big,
    });
    assert.equal(tarPadding(512), 0);
    assert.equal(tarPadding(513), 511);
    assert.deepEqual(parseTarHeader(new Uint8Array(512)), { kind: 'end' });
    const damaged = Uint8Array.from(h);
    damaged[10] = 0x41;
    assert.equal(parseTarHeader(damaged).kind, 'bad');
    assert.throws(() => tarHeader('../etc/passwd', 1, 0));
  });

  it('packs files so that system tar lists and extracts them, and unpacks them with one checksum pass', async () => {
    const d = tempDir();
    mkdirSync(join(d, 'src'));
    writeFileSync(join(d, 'src', '3342.dat.gz'), Buffer.alloc(1000, 7));
    writeFileSync(
      join(d, 'src', 'toc.dat'),
      Buffer.concat([Buffer.from('PGDMP'), Buffer.from([1, 14, 0, 4, 8, 3])]),
    );
    writeFileSync(join(d, 'src', 'blobs.toc'), '');
    const p = await TarPacker.create(join(d, 'x.dump'));
    for (const n of ['3342.dat.gz', 'blobs.toc', 'toc.dat']) await p.add(join(d, 'src', n), n);
    const { sha256, bytes } = await p.finish();
    assert.equal(bytes, readFileSync(join(d, 'x.dump')).length);
    const t = spawnSync('tar', ['-tf', join(d, 'x.dump')], { encoding: 'utf8' });
    assert.deepEqual(t.stdout.trim().split('\n'), ['3342.dat.gz', 'blobs.toc', 'toc.dat']);
    mkdirSync(join(d, 'out'));
    const u = await unpackDump(join(d, 'x.dump'), join(d, 'out'));
    assert.equal(u.sha256, sha256);
    assert.deepEqual(readdirSync(join(d, 'out')).sort(), ['3342.dat.gz', 'blobs.toc', 'toc.dat']);
    assert.deepEqual(readFileSync(join(d, 'out', '3342.dat.gz')), Buffer.alloc(1000, 7));
    assert.equal(await tarArchiveFormat(join(d, 'x.dump')), 'directory');
  });

  it('refuses a truncated archive and members that are not files of a dump directory, writing nothing outside', async () => {
    const d = tempDir();
    mkdirSync(join(d, 'src'));
    writeFileSync(join(d, 'src', 'toc.dat'), 'PGDMP');
    const p = await TarPacker.create(join(d, 'x.dump'));
    await p.add(join(d, 'src', 'toc.dat'), 'toc.dat');
    await p.finish();
    const whole = readFileSync(join(d, 'x.dump'));
    writeFileSync(join(d, 'cut.dump'), whole.subarray(0, 700));
    await assert.rejects(unpackDump(join(d, 'cut.dump'), undefined), DamagedArchive);
    // A hand-made tar whose member climbs out of the directory.
    mkdirSync(join(d, 'evil', 'a'), { recursive: true });
    writeFileSync(join(d, 'evil', 'passwd'), 'x');
    spawnSync('tar', ['-cf', join(d, 'evil.tar'), '-C', join(d, 'evil', 'a'), '../passwd']);
    mkdirSync(join(d, 'out'));
    await assert.rejects(unpackDump(join(d, 'evil.tar'), join(d, 'out')), DamagedArchive);
    assert.deepEqual(readdirSync(join(d, 'out')), []);
  });

  it("tells pg_dump's tar format (restore.sql beside toc.dat) from a packed directory dump", async () => {
    const d = tempDir();
    for (const n of ['toc.dat', 'restore.sql'])
      writeFileSync(join(d, n), n === 'toc.dat' ? 'PGDMP\x01\x0e\x00\x04\x08\x03' : '');
    spawnSync('tar', ['-cf', join(d, 'ft.tar'), '-C', d, 'toc.dat', 'restore.sql']);
    assert.equal(await tarArchiveFormat(join(d, 'ft.tar')), 'tar');
    assert.equal(tocArchiveFormat(Buffer.from('PGDMP\x01\x0e\x00\x04\x08\x03')), 'tar');
    assert.equal(tocArchiveFormat(Buffer.from('not a toc')), undefined);
  });

  it('reads the data entries of a table of contents', () => {
    const listing = [
      ';',
      '3342; 0 16385 TABLE DATA public orders postgres',
      '3343; 0 16390 TABLE DATA archive notes postgres',
      '3345; 0 0 BLOBS - BLOBS ',
      '3344; 2613 16393 BLOB - 16393 postgres',
      '3300; 1259 16385 TABLE public orders postgres',
    ].join('\n');
    assert.deepEqual(
      dataEntriesOfToc(listing).map((e) => [e.id, e.desc]),
      [
        [3342, 'TABLE DATA'],
        [3343, 'TABLE DATA'],
        [3345, 'BLOBS'],
      ],
    );
  });

  it('names the data entries no packed member holds, whatever the compression of the others', () => {
    const listing = [
      '3342; 0 16385 TABLE DATA public orders postgres',
      '3343; 0 16390 TABLE DATA archive notes postgres',
      '3346; 0 16395 TABLE DATA public events postgres',
      '3345; 0 0 BLOBS - BLOBS ',
    ].join('\n');
    const members = ['toc.dat', '3342.dat.gz', '3346.dat.zst', 'blobs_3345.toc'].map((name) => ({ name }));
    assert.deepEqual(
      dataEntriesMissing(listing, members).map((e) => `${e.desc} ${e.tag}`),
      ['TABLE DATA archive notes postgres'],
    );
    assert.deepEqual(dataEntriesMissing(listing, [...members, { name: '3343.dat' }]), []);
  });
});

describe('why a backup failed', () => {
  const f = (part: string, message: string, seq: number, afterAbort = false): PartFailure => ({
    part,
    message,
    seq,
    afterAbort,
  });

  it('reports a damaged page over the snapshot error another connection saw first', () => {
    const cause = pickCause([
      f(
        'pg_dump',
        'pg_dump failed: pg_dump: error: query failed: ERROR:  could not import the requested snapshot',
        0,
      ),
      f(
        'row counts',
        "counting rows in the dump's snapshot failed: invalid page in block 0 of relation base/16384/16389",
        1,
      ),
    ]);
    assert.equal(cause?.part, 'row counts');
  });

  it('reports an interruption over what stopping the other parts made them say', () => {
    const cause = pickCause([
      f('pg_dump', 'pg_dump failed: canceling statement due to user request', 0),
      f('interrupted', 'interrupted by SIGINT', 1),
      f('row counts', 'Connection terminated', 2, true),
    ]);
    assert.equal(cause?.part, 'interrupted');
  });

  it('reports the first failure that is not a consequence of another', () => {
    const cause = pickCause([
      f('globals', 'pg_dumpall failed: permission denied', 0),
      f('pg_dump', 'pg_dump failed: stopped by SIGTERM', 1, true),
    ]);
    assert.equal(cause?.part, 'globals');
  });

  it('finds the relation file, block and checksums of a damaged page', () => {
    const c = findPageCorruption([
      'pg_dump: WARNING:  page verification failed, calculated checksum 44282 but expected 53996',
      'pg_dump: detail: Error message from server: ERROR:  invalid page in block 3 of relation base/16384/16385',
    ]);
    assert.deepEqual(c, {
      block: 3,
      path: 'base/16384/16385',
      kind: 'invalid page',
      checksum: { calculated: 44282, expected: 53996 },
    });
    assert.deepEqual(parseRelationPath('base/16384/16385_vm'), {
      tablespace: 0,
      filenode: 16385,
      fork: 'vm',
    });
    assert.deepEqual(parseRelationPath('pg_tblspc/16400/PG_15_202209061/16384/16401'), {
      tablespace: 16400,
      filenode: 16401,
      fork: 'main',
    });
    assert.equal(parseRelationPath('global/1262')?.tablespace, 1664);
  });

  it('names the table of a damaged TOAST page and never suggests trying again', () => {
    const e = pageCorruptionError(
      { block: 7, path: 'base/1/2', kind: 'invalid page' },
      { schema: 'pg_toast', name: 'pg_toast_2', kind: 't', toastOf: 'public.docs' },
      'app',
      true,
    );
    assert.match(e.message, /^table public\.docs is damaged: its TOAST table pg_toast\.pg_toast_2/);
    assert.match(e.message, /block 7 fails its checksum/);
    assert.match(e.hint!, /verify_heapam\('public\.docs'\)/);
    assert.doesNotMatch(`${e.message} ${e.hint}`, /retry|try again/i);
    assert.equal(e.exitCode, 1);
  });
});
