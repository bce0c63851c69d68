import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommandUnknownOpts as Command } from '@commander-js/extra-typings';
import { buildOpsProgram } from '../../src/ops/program.js';

function help(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  cmd.outputHelp();
  return text;
}

const leaves = (cmd: Command): Command[] =>
  cmd.commands.flatMap((c) => (c.commands.length ? [c, ...leaves(c)] : [c]));

describe('postgres-ops command line', () => {
  const program = buildOpsProgram();

  it('has every command the guide and the design name', () => {
    const names = leaves(program).map((c) =>
      c.parent === program ? c.name() : `${c.parent!.name()} ${c.name()}`,
    );
    for (const n of [
      'status',
      'backup',
      'list-backups',
      'restore',
      'snapshot',
      'list-snapshots',
      'monitor',
      'connect',
      'promote',
      'verify',
      'migrate',
      'local up',
      'local down',
      'local destroy',
      'local status',
    ])
      assert.ok(names.includes(n), `missing command ${n}`);
  });

  it('explains the exit codes in the top-level help', () => {
    const text = help(program);
    for (const line of [
      /0 {2}success/,
      /1 {2}the operation failed/,
      /2 {2}bad usage or input/,
      /3 {2}refused for safety/,
    ])
      assert.match(text, line);
  });

  it('gives every command an example and the shared flags', () => {
    for (const cmd of leaves(program)) {
      const text = help(cmd);
      assert.match(text, /Examples:\n {2}\$ postgres-ops /, `${cmd.name()} has no example`);
      if (cmd.commands.length === 0) {
        for (const flag of [
          '--namespace',
          '--context',
          '--kubeconfig',
          '--release',
          '--output',
          '--yes',
          '--local',
          '--state-dir',
        ])
          assert.ok(text.includes(flag), `${cmd.name()} help lacks ${flag}`);
      }
    }
  });
});
