/**
 * Hints, examples and docs tell people what to type next: every flag they give to a postgres-ops or
 * postgres-agent command must be a flag of that command (or of its parents), as commander declares it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import type { CommandUnknownOpts as Command } from '@commander-js/extra-typings';
import { buildAgentProgram } from '../../src/agent/program.js';
import { buildOpsProgram } from '../../src/ops/program.js';
import { repoRoot } from '../support/tools.js';

const programs: Record<string, Command> = {
  'postgres-ops': buildOpsProgram(),
  'postgres-agent': buildAgentProgram(),
};

/** How a text names a program: its name, the guide's script, or the built entry point. */
const PROGRAM_RE =
  /(?:\.\/scripts\/postgres-ops\.sh|postgres-ops\.sh|dist\/ops\/main\.js|dist\/agent\/main\.js|postgres-ops|postgres-agent)(?![\w.-])/g;

function programOf(match: string): Command {
  return match.includes('agent') ? programs['postgres-agent']! : programs['postgres-ops']!;
}

/** Where a command line written in prose or code ends. */
const END_RE = /[`'"|;()]|&&| or | then |, |\. |\.$|\s#|\\n|$/;

function flagsOf(cmd: Command): Set<string> {
  const flags = new Set<string>(['--help', '-h']);
  for (let c: Command | null = cmd; c; c = c.parent)
    for (const o of c.options) for (const f of [o.long, o.short]) if (f) flags.add(f);
  return flags;
}

/** Problems in one text: `postgres-ops backup --name x` names a flag `backup` does not have. */
export function hintFlagProblems(text: string): string[] {
  // `${commandLine(opts, 'restore')}` builds "postgres-ops restore ..." at run time.
  const src = text.replace(/\$\{commandLine\([^)]*?'([a-z -]+)'\)\}/g, 'postgres-ops $1');
  const problems: string[] = [];
  for (const line of src.split('\n')) {
    for (const m of line.matchAll(PROGRAM_RE)) {
      const rest = line.slice(m.index + m[0].length);
      const segment = rest.slice(0, rest.search(END_RE));
      const tokens = segment
        .split(/\s+/)
        .map((t) => t.replace(/[[\]{}]/g, ''))
        .filter(Boolean);
      let cmd = programOf(m[0]);
      let i = 0;
      for (; i < tokens.length; i++) {
        const sub = cmd.commands.find((c) => c.name() === tokens[i]);
        if (!sub) break;
        cmd = sub;
      }
      // "postgres-agent <args>": a placeholder where the command would be; nothing to check.
      if (cmd.commands.length > 0 && /^<.*>$/.test(tokens[i] ?? '')) continue;
      const known = flagsOf(cmd);
      for (const t of tokens.slice(i)) {
        const flag = /^(--[a-z][a-z0-9-]*|-[a-zA-Z])(?:=.*)?$/.exec(t)?.[1];
        if (flag && !known.has(flag))
          problems.push(`"${m[0]}${segment}": ${flag} is not a flag of ${commandName(cmd)}`);
      }
    }
  }
  return problems;
}

function commandName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name), ext) : ext.test(e.name) ? [join(dir, e.name)] : [],
  );
}

describe('flags named by hints, examples and docs', () => {
  it('finds a flag given to a command that does not have it', () => {
    assert.deepEqual(hintFlagProblems("hint: 'Run: postgres-ops backup --name critical-point-backup'"), [
      '"postgres-ops backup --name critical-point-backup": --name is not a flag of postgres-ops backup',
    ]);
    assert.deepEqual(hintFlagProblems("retry: `${commandLine(deps.opts, 'restore')} --snapshots x`"), [
      '"postgres-ops restore --snapshots x": --snapshots is not a flag of postgres-ops restore',
    ]);
    assert.deepEqual(hintFlagProblems('Example: postgres-agent backup --name nightly -o json'), []);
    assert.deepEqual(hintFlagProblems('postgres-ops local up --replicas 2 --state-dir /x'), []);
  });

  it('every flag a hint or example in src/ gives a command is one of its flags', () => {
    const problems = filesUnder(join(repoRoot, 'src'), /\.ts$/).flatMap((f) =>
      hintFlagProblems(readFileSync(f, 'utf8')).map((p) => `${relative(repoRoot, f)}: ${p}`),
    );
    assert.deepEqual(problems, []);
  });

  it('every flag the docs give a command is one of its flags', () => {
    const files = [
      join(repoRoot, 'README.md'),
      ...filesUnder(join(repoRoot, 'docs'), /\.md$/),
      join(repoRoot, 'helm', 'pyairtable-stack', 'templates', 'NOTES.txt'),
    ];
    const problems = files.flatMap((f) =>
      hintFlagProblems(readFileSync(f, 'utf8')).map((p) => `${relative(repoRoot, f)}: ${p}`),
    );
    assert.deepEqual(problems, []);
  });
});
