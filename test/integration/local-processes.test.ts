import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { postmasterPid, runningPid, stopPid } from '../../src/local/processes.js';
import { cleanupAll, onCleanup } from '../support/cleanup.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

function sleeper(cwd: string) {
  const child = spawn('sleep', ['30'], { cwd, stdio: 'ignore' });
  onCleanup('kill sleeper', () => {
    child.kill('SIGKILL');
  });
  return child.pid!;
}

describe('finding our processes again', () => {
  it('does not take a live process of someone else for the postmaster of a data directory (pid reuse after a reboot)', () => {
    const dataDir = tempDir();
    const stranger = sleeper(tempDir());
    writeFileSync(join(dataDir, 'postmaster.pid'), `${stranger}\n${dataDir}\n`);
    assert.equal(postmasterPid(dataDir), undefined);
  });

  it('finds a live process whose working directory is the data directory', () => {
    const dataDir = tempDir();
    const pid = sleeper(dataDir);
    writeFileSync(join(dataDir, 'postmaster.pid'), `${pid}\n${dataDir}\n`);
    assert.equal(postmasterPid(dataDir), pid);
  });

  it('ignores a pid file whose process runs another program, and stops one that is ours', async () => {
    const dir = tempDir();
    const pid = sleeper(dir);
    writeFileSync(join(dir, 'x.pid'), `${pid}\n`);
    assert.equal(runningPid(join(dir, 'x.pid'), 'instance'), undefined);
    assert.equal(runningPid(join(dir, 'x.pid'), 'sleep'), pid);
    assert.equal(await stopPid(pid, 5000), true);
    assert.equal(runningPid(join(dir, 'x.pid'), 'sleep'), undefined);
  });
});
