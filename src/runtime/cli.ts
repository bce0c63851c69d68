/**
 * The one place that turns errors into exit codes, for both entry points. A message says what was
 * being done and what to type next; with `-o json` stdout also gets {"error":{code,message,meta}}.
 * Stack traces only with --debug.
 */
import { CommanderError, type Command } from 'commander';
import { OpsError } from '../core/errors.js';
import type { Output, OutputFormat } from '../core/output.js';

export function consoleOutput(format: () => OutputFormat = () => 'table'): Output {
  return {
    line: (text) => {
      if (format() === 'json') process.stderr.write(text + '\n');
      else process.stdout.write(text + '\n');
    },
    result: (data, fmt, render) => {
      if (fmt === 'json') process.stdout.write(JSON.stringify(data, null, 2) + '\n');
      else {
        const text = render(data);
        if (text) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
      }
    },
  };
}

export function parseOutputFormat(v: string): OutputFormat {
  if (v === 'json' || v === 'table') return v;
  throw new OpsError('E_USAGE', `unknown output format "${v}"`, 2, {}, { hint: 'Use -o table or -o json.' });
}

/** Parses argv and runs the chosen command; returns the process exit code. */
export async function runCli(program: Command, argv: string[]): Promise<number> {
  const wantsJson = () => {
    const i = argv.findIndex((a) => a === '-o' || a === '--output');
    return (i >= 0 && argv[i + 1] === 'json') || argv.includes('-ojson') || argv.includes('--output=json');
  };
  const debug = argv.includes('--debug');
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not failures; commander has already printed its message.
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      )
        return 0;
      return 2;
    }
    const e =
      err instanceof OpsError
        ? err
        : new OpsError('E_INTERNAL', err instanceof Error ? err.message : String(err), 1, {}, { cause: err });
    process.stderr.write(`error: ${e.message}\n`);
    if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    if (wantsJson())
      process.stdout.write(
        JSON.stringify({ error: { code: e.code, message: e.message, meta: e.meta } }) + '\n',
      );
    return e.exitCode;
  }
}
