/**
 * The output host of both programs: the one module that writes to the process's stdout and
 * stderr (and reads the answer to a confirmation from stdin). Commands and adapters print through
 * the `OutputHost` / `Output` they are given, so tests record what was printed; the few runtime
 * helpers that run without one (the agent's logger, progress lines) write to `stderrTerminal`.
 */
import { createInterface } from 'node:readline/promises';
import { stringify } from 'yaml';
import { SafetyRefusal } from '../core/errors.js';
import { isMachineFormat, type OutputFormat, type OutputHost, type Terminal } from '../core/output.js';

function terminalOf(stream: NodeJS.WriteStream): Terminal {
  return {
    get isTTY() {
      return !!stream.isTTY;
    },
    get columns() {
      return stream.isTTY ? stream.columns : undefined;
    },
    write: (text) => void stream.write(text),
  };
}

export const stdoutTerminal = terminalOf(process.stdout);
export const stderrTerminal = terminalOf(process.stderr);

/** The result document of -o json / -o yaml: one object, two spellings. */
export function formatDocument(data: unknown, fmt: 'json' | 'yaml'): string {
  return fmt === 'json' ? JSON.stringify(data, null, 2) + '\n' : stringify(data);
}

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/** The console host; `format` is read when printing (the -o flag is parsed after the host is made). */
export function consoleOutput(format: () => OutputFormat = () => 'table'): OutputHost {
  const isInteractive = () => !!process.stdin.isTTY && !!process.stderr.isTTY;
  return {
    stdout: stdoutTerminal,
    stderr: stderrTerminal,
    line: (text) => (isMachineFormat(format()) ? stderrTerminal : stdoutTerminal).write(text + '\n'),
    result: (data, fmt, render) => {
      if (fmt !== 'table') stdoutTerminal.write(formatDocument(data, fmt));
      else {
        const text = render(data);
        if (text) stdoutTerminal.write(text.endsWith('\n') ? text : text + '\n');
      }
    },
    raw: (chunk) => stderrTerminal.write(chunk),
    isInteractive,
    ask,
    confirm: async ({ action, retry, yes }) => {
      if (yes) return;
      if (!isInteractive())
        throw new SafetyRefusal(
          'E_UNCONFIRMED',
          `refusing to ${action} without confirmation (no terminal to ask on)`,
          { action },
          { hint: `Nothing was changed. To go ahead, run: ${retry} --yes` },
        );
      const answer = await ask(`This will ${action}.\nType "yes" to continue: `);
      if (answer.trim().toLowerCase() !== 'yes')
        throw new SafetyRefusal(
          'E_DECLINED',
          `did not ${action}: not confirmed`,
          { action },
          { hint: 'Nothing was changed.' },
        );
    },
  };
}
