import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Output } from '../../src/core/output.js';
import { placeDefaultStateDir, removeDanglingStateLink } from '../../src/local/state-dir.js';
import { cleanupAll, onCleanup } from '../support/cleanup.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

const lines: string[] = [];
const out: Output = { line: (t) => lines.push(t), result: () => undefined, raw: () => undefined };

/** True if the postgres OS user can list `dir` (the instances run as that user when we are root). */
function postgresCanEnter(dir: string): boolean {
  try {
    execFileSync('runuser', ['-u', 'postgres', '--', 'ls', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('the local state folder of a checkout the postgres OS user cannot reach', () => {
  it('moves the state to /var/lib/postgres-ops and links .postgres-ops to it, and destroy removes the link', (t) => {
    if (process.getuid?.() !== 0) return t.skip('only as root do the instances run as another user');
    const home = join(tempDir(), 'root-like');
    const checkout = join(home, 'checkout');
    mkdirSync(checkout, { recursive: true });
    chmodSync(home, 0o700); // like /root
    const link = join(checkout, '.postgres-ops');

    const real = placeDefaultStateDir(link, out);
    onCleanup(`rm ${real}`, () => rmSync(real, { recursive: true, force: true }));

    assert.ok(real.startsWith('/var/lib/postgres-ops/checkout-'), real);
    assert.equal(lstatSync(link).isSymbolicLink(), true);
    assert.equal(readlinkSync(link), real);
    assert.equal(postgresCanEnter(real), true, 'the postgres user must reach the real folder');
    assert.equal(postgresCanEnter(checkout), false);
    assert.match(lines.join('\n'), /cannot enter .*root-like/);

    // Again: the same folder, the link unchanged.
    assert.equal(placeDefaultStateDir(link, out), real);

    // local destroy deletes the real folder; the link left behind goes too.
    rmSync(real, { recursive: true, force: true });
    removeDanglingStateLink(link);
    assert.equal(existsSync(link), false);
    assert.throws(() => lstatSync(link));
  });

  it('keeps the project-local folder when the postgres OS user can reach it', () => {
    const checkout = tempDir();
    const link = join(checkout, '.postgres-ops');
    assert.equal(placeDefaultStateDir(link, out), link);
    assert.equal(existsSync(link), false, 'nothing is created before local up needs it');
  });
});
