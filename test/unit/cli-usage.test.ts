/**
 * Bad usage, for every command of both programs: exit 2, one error line and one hint naming the
 * command's --help (never the whole help, never exit 1), and nothing is run. Values that start
 * with "-" are options in the wrong place, never names.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import type { CommandUnknownOpts as Command } from '@commander-js/extra-typings';
import { buildAgentProgram } from '../../src/agent/program.js';
import { buildOpsProgram } from '../../src/ops/program.js';
import { tempDir } from '../support/tmp.js';
import { agentMain, opsMain } from '../support/tools.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** No local state and no kubeconfig: nothing a command could reach if it ran. */
const isolated = () => {
  const home = tempDir('pgops-usage-');
  return { PATH: process.env.PATH, HOME: home, KUBECONFIG: `${home}/none` };
};

function run(main: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { env: isolated(), timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const ops = (...args: string[]) => run(opsMain, args);
const agent = (...args: string[]) => run(agentMain, args);

/** Every command and subcommand, as the words a person types after the program's name. */
function commandPaths(program: Command): string[][] {
  const walk = (c: Command, path: string[]): string[][] =>
    c.commands.flatMap((s) => [[...path, s.name()], ...walk(s, [...path, s.name()])]);
  return walk(program, []);
}

/** The name of the first argument of a postgres-ops command, as its help shows it. */
function argumentOf(command: string): string {
  return buildOpsProgram()
    .commands.find((c) => c.name() === command)!
    .registeredArguments[0]!.name();
}

function assertUsage(r: Run, error: RegExp, command: string) {
  assert.equal(r.code, 2, `${command}: exit code\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 2, `${command}: one error line and one hint, got:\n${r.stderr}`);
  assert.match(lines[0]!, error, command);
  assert.equal(lines[1], `hint: See the usage: ${command} --help`);
}

describe('bad usage of postgres-ops and postgres-agent', () => {
  it('an unknown option is exit 2 with one line and a hint, for every command and subcommand', async () => {
    const cases = [
      ...commandPaths(buildOpsProgram()).map((p) => ['postgres-ops', opsMain, p] as const),
      ...commandPaths(buildAgentProgram()).map((p) => ['postgres-agent', agentMain, p] as const),
    ];
    assert.ok(cases.some(([, , p]) => p.join(' ') === 'local up'));
    const results = await Promise.all(cases.map(([, main, path]) => run(main, [...path, '--bogus'])));
    cases.forEach(([name, , path], i) =>
      assertUsage(results[i]!, /^error: unknown option '--bogus'$/, [name, ...path].join(' ')),
    );
  });

  it('an unknown command, a missing or extra argument, a missing subcommand are exit 2 with one line', async () => {
    assertUsage(await ops('bogus'), /^error: unknown command 'bogus'$/, 'postgres-ops');
    const promoteArg = argumentOf('promote');
    assertUsage(
      await ops('promote'),
      new RegExp(`^error: missing required argument '${promoteArg}'$`),
      'postgres-ops promote',
    );
    assertUsage(await ops('status', 'extra'), /^error: too many arguments/, 'postgres-ops status');
    assertUsage(
      await ops('local'),
      /^error: postgres-ops local needs a command: up, down, destroy, status$/,
      'postgres-ops local',
    );
    assertUsage(await ops(), /^error: postgres-ops needs a command: status, backup, /, 'postgres-ops');
    assertUsage(await agent('nope'), /^error: unknown command 'nope'$/, 'postgres-agent');
  });

  it('with -o json a usage error is also one JSON error document on stdout', async () => {
    const r = await ops('list-backups', '-o', 'json', '--bogus');
    assert.equal(r.code, 2);
    assert.deepEqual(JSON.parse(r.stdout), {
      error: {
        code: 'E_USAGE',
        message: "unknown option '--bogus'",
        meta: {},
        hint: 'See the usage: postgres-ops list-backups --help',
      },
    });
  });

  it('with -o yaml a usage error is the same error document, in YAML', async () => {
    const r = await ops('list-backups', '-o', 'yaml', '--bogus');
    assert.equal(r.code, 2);
    assert.deepEqual(parse(r.stdout), {
      error: {
        code: 'E_USAGE',
        message: "unknown option '--bogus'",
        meta: {},
        hint: 'See the usage: postgres-ops list-backups --help',
      },
    });
  });

  it('an unknown output format is exit 2 naming the three formats', async () => {
    const r = await ops('status', '-o', 'xml');
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'error: unknown output format "xml": table, json or yaml\nhint: Use -o table, -o json or -o yaml.\n',
    );
  });

  it('refuses names and values that start with "-" (exit 2), for arguments and options alike', async () => {
    const cases: [Promise<Run>, string, string][] = [
      [ops('backup', '--', '-nightly'), 'postgres-ops backup', '"-nightly" is not a valid name'],
      [ops('snapshot', '--', '-x'), 'postgres-ops snapshot', '"-x" is not a valid name'],
      [ops('restore', '--', '--force'), 'postgres-ops restore', '"--force" is not a valid file'],
      [ops('verify', '--', '-x'), 'postgres-ops verify', '"-x" is not a valid file'],
      [ops('promote', '--', '-x'), 'postgres-ops promote', `"-x" is not a valid ${argumentOf('promote')}`],
      [
        ops('restore', '--snapshot', '-x'),
        'postgres-ops restore',
        '"-x" is not a valid value for --snapshot',
      ],
      [
        ops('local', 'up', '--replicas', '-1'),
        'postgres-ops local up',
        '"-1" is not a valid value for --replicas',
      ],
      [agent('backup', '--name', '-x'), 'postgres-agent backup', '"-x" is not a valid value for --name'],
      [agent('restore', '--', '--replace'), 'postgres-agent restore', '"--replace" is not a valid file'],
    ];
    for (const [p, command, what] of cases) {
      const r = await p;
      assertUsage(
        r,
        new RegExp(`^error: ${command}: ${what.replace(/[-[\]]/g, '\\$&')}: it starts with "-"`),
        command,
      );
    }
  });

  it('--help is not an error: the help goes to stdout, exit 0', async () => {
    const r = await ops('status', '--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: postgres-ops status/);
    assert.equal(r.stderr, '');
  });
});
