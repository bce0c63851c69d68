import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildAgentProgram } from '../../src/agent/program.js';
import { agentRestoreArgs, agentVerifyArgs } from '../../src/ops/agent-args.js';

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

  it('verifies one file or all, deeply when asked', () => {
    assert.deepEqual(agentVerifyArgs(undefined, {}), ['verify']);
    assert.deepEqual(agentVerifyArgs('a.dump', { deep: true }), ['verify', 'a.dump', '--deep']);
    assert.deepEqual(agentVerifyArgs(undefined, { deep: true, all: true }), ['verify', '--deep', '--all']);
  });

  it('uses only flags that postgres-agent declares', () => {
    const restore = agentRestoreArgs({ file: 'f', targetDatabase: 'd', safetyBackup: false, force: true });
    const verify = agentVerifyArgs('f', { deep: true, all: true });
    for (const [command, args] of [
      ['restore', restore],
      ['verify', verify],
    ] as const) {
      const declared = declaredFlags(command);
      for (const flag of args.filter((a) => a.startsWith('--')))
        assert.ok(declared.includes(flag), `postgres-agent ${command} declares ${flag}`);
    }
  });
});
