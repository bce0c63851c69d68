/**
 * Running external programs (pg_dump, pg_ctl, psql, ...). Arguments are passed as an array, never
 * through a shell; secrets go through env (PGPASSFILE) or stdin, never through argv.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { OperationFailed } from '../core/errors.js';

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  uid?: number;
  gid?: number;
  timeoutMs?: number;
  /** Called with each chunk of stderr as it arrives (progress, logs). */
  onStderr?: (chunk: string) => void;
  /** Aborting it stops the program (SIGTERM); the result then carries the signal. */
  signal?: AbortSignal;
  /** The signal `signal` sends (default SIGTERM). */
  killSignal?: () => NodeJS.Signals;
}

/** Runs a program to completion and collects its output; never throws on a non-zero exit. */
export function exec(file: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      uid: opts.uid,
      gid: opts.gid,
    };
    const child = spawn(file, args, spawnOpts);
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    const stop = () => child.kill(opts.killSignal?.() ?? 'SIGTERM');
    if (opts.signal?.aborted) stop();
    opts.signal?.addEventListener('abort', stop, { once: true });
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      opts.onStderr?.(c);
    });
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(
        new OperationFailed(
          'E_EXEC',
          `could not run ${file}: ${err.message}`,
          { program: file },
          { cause: err },
        ),
      );
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', stop);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
  });
}

/** Runs a program and throws an OperationFailed naming it and quoting its stderr when it fails. */
export async function execOk(file: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await exec(file, args, opts);
  if (r.code !== 0) {
    const name = file.split('/').pop() ?? file;
    const why = r.stderr.trim().split('\n').slice(-5).join('\n') || `exit ${r.code ?? r.signal}`;
    throw new OperationFailed('E_EXEC', `${name} failed: ${why}`, { program: name, exitCode: r.code ?? -1 });
  }
  return r;
}
