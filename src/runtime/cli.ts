/**
 * The one place that turns errors into exit codes, for both entry points. A message says what was
 * being done and what to type next; with `-o json` stdout also gets {"error":{code,message,meta}}.
 * Stack traces only with --debug (or PGOPS_DEBUG=1).
 *
 * Bad usage (an unknown flag or command, a missing or extra argument) is exit 2 with one line and
 * a hint naming the command's --help, for every command of the tree: commander's own reporting
 * (the whole help, exit 1) is replaced here.
 */
import { type CommandUnknownOpts as Command, CommanderError, type Option } from '@commander-js/extra-typings';
import { envSwitch } from '../core/config/switch.js';
import { OpsError, UsageError } from '../core/errors.js';
import type { OutputFormat } from '../core/output.js';
import { stringify } from 'yaml';
import { stderrTerminal, stdoutTerminal } from './output-host.js';
import { guardStdio } from './stdio.js';

export function parseOutputFormat(v: string): OutputFormat {
  if (v === 'json' || v === 'table' || v === 'yaml') return v;
  throw new OpsError(
    'E_USAGE',
    `unknown output format "${v}": table, json or yaml`,
    2,
    {},
    {
      hint: 'Use -o table, -o json or -o yaml.',
    },
  );
}

/** "postgres-ops local up": the command's full name, as a person types it. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

const usageHint = (cmd: Command) => `See the usage: ${commandPath(cmd)} --help`;

/**
 * A value that starts with "-" is an option typed in the wrong place (or a value forgotten
 * before the next flag), never a name: refused before anything runs, since handed on to the agent
 * or to pg_dump it would be read as an option.
 */
function refuseDashValue(cmd: Command, what: string, previous?: (v: string, p: unknown) => unknown) {
  return (value: string, prev: unknown) => {
    if (value.startsWith('-'))
      throw new UsageError(
        'E_USAGE',
        `${commandPath(cmd)}: "${value}" is not a valid ${what}: it starts with "-" (an option in the wrong place, or a value left out before it)`,
        {},
        { hint: usageHint(cmd) },
      );
    return previous ? previous(value, prev) : value;
  };
}

const commandOf = new WeakMap<CommanderError, Command>();

/** Every command of the tree reports bad usage to runCli instead of printing help and exiting. */
export function prepareCommandTree(program: Command): void {
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const cmd of all(program)) {
    cmd.showHelpAfterError(false);
    // Commander writes to stderr only for errors and for the help shown on a missing command;
    // runCli prints one line instead. Help asked for with --help goes to stdout as usual.
    cmd.configureOutput({ outputError: () => undefined, writeErr: () => undefined });
    cmd.exitOverride((err) => {
      commandOf.set(err, cmd);
      throw err;
    });
    for (const arg of cmd.registeredArguments) {
      const previous = arg.parseArg as ((v: string, p: unknown) => unknown) | undefined;
      arg.argParser(refuseDashValue(cmd, arg.name(), previous));
    }
    for (const opt of cmd.options as Option[]) {
      if (!opt.required && !opt.optional) continue;
      const previous = opt.parseArg as ((v: string, p: unknown) => unknown) | undefined;
      opt.argParser(refuseDashValue(cmd, `value for ${opt.long ?? opt.flags}`, previous));
    }
  }
}

/** The usage error a commander failure stands for (undefined for --help and --version). */
function usageErrorOf(err: CommanderError, program: Command): UsageError | undefined {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return undefined;
  const cmd = commandOf.get(err) ?? program;
  if (err.code === 'commander.help') {
    // A command that only groups others (`local`, or nothing at all) was given none of them.
    const names = cmd.commands.map((c) => c.name()).join(', ');
    return new UsageError(
      'E_USAGE',
      `${commandPath(cmd)} needs a command: ${names}`,
      {},
      {
        hint: usageHint(cmd),
      },
    );
  }
  return new UsageError('E_USAGE', err.message.replace(/^error: /, ''), {}, { hint: usageHint(cmd) });
}

/** Parses argv and runs the chosen command; returns the process exit code. */
export async function runCli(program: Command, argv: string[]): Promise<number> {
  guardStdio();
  /** -o json or -o yaml as typed (a usage error may come before commander has read it). */
  const documentFormat = (): 'json' | 'yaml' | undefined => {
    const i = argv.findIndex((a) => a === '-o' || a === '--output');
    for (const f of ['json', 'yaml'] as const)
      if ((i >= 0 && argv[i + 1] === f) || argv.includes(`-o${f}`) || argv.includes(`--output=${f}`))
        return f;
    return undefined;
  };
  const debug = argv.includes('--debug') || envSwitch(process.env.PGOPS_DEBUG);
  // Child processes (the agent run by local mode) inherit the switch and print their traces too.
  if (debug) process.env.PGOPS_DEBUG = '1';
  prepareCommandTree(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    let e: OpsError;
    if (err instanceof CommanderError) {
      const usage = usageErrorOf(err, program);
      if (!usage) return 0;
      e = usage;
    } else
      e =
        err instanceof OpsError
          ? err
          : new OpsError(
              'E_INTERNAL',
              err instanceof Error ? err.message : String(err),
              1,
              {},
              { cause: err },
            );
    stderrTerminal.write(`error: ${e.message}\n`);
    if (e.hint) stderrTerminal.write(`hint: ${e.hint}\n`);
    if (debug && err instanceof Error && err.stack) stderrTerminal.write(err.stack + '\n');
    const doc = documentFormat();
    const error = { error: { code: e.code, message: e.message, meta: e.meta, hint: e.hint ?? null } };
    if (doc === 'json') stdoutTerminal.write(JSON.stringify(error) + '\n');
    else if (doc === 'yaml') stdoutTerminal.write(stringify(error));
    return e.exitCode;
  }
}
