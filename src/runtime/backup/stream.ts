/**
 * Running a pg tool whose stdin is fed from a stream, without a shell and without buffering the
 * data. (pg_dump's own output is handled in dump.ts; files are hashed by ../file-hash.ts.)
 */
import { spawn } from 'node:child_process';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OperationFailed } from '../../core/errors.js';

export interface ToolRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

const MAX_STDERR = 64 * 1024;

/** Runs `file args` with the `input` chain (source, transforms...) piped to its stdin; collects stderr. */
export async function runFromStream(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input: (Readable | Transform)[],
  onStderr?: (chunk: string) => void,
): Promise<ToolRun & { stdout: string; inputError?: Error }> {
  const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    if (stdout.length < MAX_STDERR) stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    if (stderr.length < MAX_STDERR) stderr += c;
    onStderr?.(c);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res, rej) => {
    child.on('error', (err) =>
      rej(new OperationFailed('E_EXEC', `could not run ${file}: ${err.message}`, { program: file })),
    );
    child.on('close', (code, signal) => res({ code, signal }));
  });
  // The program may exit early (an error with --exit-on-error): a broken pipe is then expected. Any
  // other failure of the input (a truncated gzip) is returned: the program then saw end of input
  // and may have "succeeded" on part of the data, which callers must treat as a failure.
  let inputError: Error | undefined;
  await pipeline([...input, child.stdin] as (NodeJS.ReadableStream | NodeJS.WritableStream)[]).catch(
    (err: Error) => (inputError = err),
  );
  const r = await exited;
  return { ...r, stderr, stdout, inputError };
}

/** The last lines of a tool's stderr, for an error message. */
export function stderrTail(stderr: string, lines = 5): string {
  return stderr.trim().split('\n').slice(-lines).join('\n');
}
