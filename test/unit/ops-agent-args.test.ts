import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildAgentProgram } from '../../src/agent/program.js';
import {
  agentBackupArgs,
  agentPromoteArgs,
  agentRestoreArgs,
  agentVerifyArgs,
} from '../../src/core/cluster/agent-args.js';
import { parseJobs } from '../../src/core/jobs.js';
import { UsageError } from '../../src/core/errors.js';

/** The long flags postgres-agent declares for `command`. */
function declaredFlags(command: string): string[] {
  const cmd = buildAgentProgram().commands.find((c) => c.name() === command);
  assert.ok(cmd, `postgres-agent has a ${command} command`);
  return cmd.options.map((o) => o.long!);
}

describe('postgres-agent command lines of postgres-ops', () => {
  it('restores replacing and confirmed, carrying the target database, no safety backup and force', () => {
    assert.deepEqual(
      agentRestoreArgs({ file: 'nightly.dump', targetDatabase: 'app', safetyBackup: false, force: true }),
      [
        'restore',
        'nightly.dump',
        '--replace',
        '--yes',
        '--target-database',
        'app',
        '--no-safety-backup',
        '--force',
      ],
    );
    assert.deepEqual(agentRestoreArgs({ file: 's3://b/x.dump', safetyBackup: true }), [
      'restore',
      's3://b/x.dump',
      '--replace',
      '--yes',
    ]);
  });

  it('backs up with a name and parallel jobs only when given, with flags the agent declares', () => {
    assert.deepEqual(agentBackupArgs(undefined), ['backup']);
    assert.deepEqual(agentBackupArgs('nightly', { jobs: 4 }), ['backup', '--name', 'nightly', '--jobs', '4']);
    const flags = declaredFlags('backup');
    for (const f of agentBackupArgs('x', { jobs: 2 }).filter((a) => a.startsWith('--')))
      assert.ok(flags.includes(f), `postgres-agent backup declares ${f}`);
  });

  it('refuses --jobs that is not a whole number from 1 to 64 with exit 2', () => {
    assert.equal(parseJobs(undefined), undefined);
    assert.equal(parseJobs('4'), 4);
    for (const bad of ['0', '65', '1.5', 'two', '', '-1', '1e1'])
      assert.throws(
        () => parseJobs(bad),
        (e: unknown) => e instanceof UsageError && e.exitCode === 2,
        bad,
      );
  });

  it('verifies one file or all, deeply when asked', () => {
    assert.deepEqual(agentVerifyArgs(undefined, {}), ['verify']);
    assert.deepEqual(agentVerifyArgs('a.dump', { deep: true }), ['verify', 'a.dump', '--deep']);
    assert.deepEqual(agentVerifyArgs(undefined, { deep: true, all: true }), ['verify', '--deep', '--all']);
  });

  it('promotes the named candidate, forcing or only planning when asked', () => {
    assert.deepEqual(agentPromoteArgs('pg-1', {}), ['promote', '--candidate', 'pg-1']);
    assert.deepEqual(agentPromoteArgs('pg-1', { force: true, plan: true }), [
      'promote',
      '--candidate',
      'pg-1',
      '--force',
      '--plan',
    ]);
  });

  it('uses only flags that postgres-agent declares', () => {
    const restore = agentRestoreArgs({ file: 'f', targetDatabase: 'd', safetyBackup: false, force: true });
    const verify = agentVerifyArgs('f', { deep: true, all: true });
    const promote = agentPromoteArgs('m', { force: true, plan: true });
    for (const [command, args] of [
      ['restore', restore],
      ['verify', verify],
      ['promote', promote],
    ] as const) {
      const declared = declaredFlags(command);
      for (const flag of args.filter((a) => a.startsWith('--')))
        assert.ok(declared.includes(flag), `postgres-agent ${command} declares ${flag}`);
    }
  });
});
