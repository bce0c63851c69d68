/**
 * Relaying a child agent's stderr: progress and logs pass through as they come, its closing error
 * block is held back for the parent, which reports it once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AgentStderrRelay, parseErrorBlock } from '../../src/runtime/agent-stderr.js';

function relayed(chunks: string[], ok: boolean) {
  let out = '';
  const relay = new AgentStderrRelay((t) => (out += t));
  for (const c of chunks) relay.push(c);
  const error = relay.end(ok);
  return { out, error };
}

describe('relaying a child agent stderr', () => {
  it('passes logs and progress through and holds back the closing error block', () => {
    const r = relayed(
      [
        '2026-01-01T00:00:00Z INFO dumping backup=x\n',
        '\rdumping 10 MB',
        '\rdumping 20 MB\n',
        'error: a backup named x already exists\nhint: Choose another name.\n',
      ],
      false,
    );
    assert.equal(r.out, '2026-01-01T00:00:00Z INFO dumping backup=x\n\rdumping 10 MB\rdumping 20 MB\n');
    assert.deepEqual(r.error, { message: 'a backup named x already exists', hint: 'Choose another name.' });
  });

  it('finds the block when a chunk boundary cuts "error: " in two, and keeps multi-line messages', () => {
    const r = relayed(
      ['INFO a\ner', 'ror: invalid agent configuration:\nPGOPS_PORT: is empty\nhint: Fix it.\n'],
      false,
    );
    assert.equal(r.out, 'INFO a\n');
    assert.deepEqual(r.error, {
      message: 'invalid agent configuration:\nPGOPS_PORT: is empty',
      hint: 'Fix it.',
    });
  });

  it('does not take "error: " inside a line for the block', () => {
    const r = relayed(['pg_dump: error: connection refused\n', 'error: backup failed\n'], false);
    assert.equal(r.out, 'pg_dump: error: connection refused\n');
    assert.deepEqual(r.error, { message: 'backup failed', hint: undefined });
  });

  it('prints whatever it held when the child succeeded after all', () => {
    const r = relayed(['err', 'or-free line\n'], true);
    assert.equal(r.out, 'error-free line\n');
    assert.equal(r.error, undefined);
  });

  it('reads the block of a stack trace printed with PGOPS_DEBUG', () => {
    assert.deepEqual(
      parseErrorBlock('error: boom\nhint: do this\nOperationFailed: boom\n    at x (y.js:1:1)\n'),
      { message: 'boom', hint: 'do this' },
    );
    assert.deepEqual(parseErrorBlock('error: boom\nOperationFailed: boom\n    at x\n'), {
      message: 'boom',
      hint: undefined,
    });
  });
});
