/**
 * Starting `postgres-agent instance` as a separate process: used by the tests and by the local mode
 * of postgres-ops. As root, the agent runs as the postgres OS user (PostgreSQL refuses root).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { get } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperationFailed } from '../core/errors.js';
import { postgresIdsWhenRoot } from './os-user.js';

/** dist/agent/main.js, found from this module's own location (dist/runtime or src/runtime under tsx). */
export function agentMainPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = join(here, '..', '..');
  return join(root, 'dist', 'agent', 'main.js');
}

export interface AgentProcess {
  pid: number;
  /** SIGTERM, then wait up to timeoutMs (SIGKILL after that). */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill9(): void;
  /** Polls /healthz/ready on PGOPS_HEALTH_PORT; rejects early if the agent exits. */
  waitReady(timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What the agent and PostgreSQL printed (when not logging to a file). */
  output(): string;
}

export interface StartAgentOptions {
  env: Record<string, string>;
  logFile?: string;
  detached?: boolean;
  /** Default true: as root, run as the postgres OS user. */
  runAsPostgres?: boolean;
}

export function startAgentInstance(opts: StartAgentOptions): AgentProcess {
  const ids = opts.runAsPostgres === false ? undefined : postgresIdsWhenRoot();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: ids ? '/var/lib/postgresql' : process.env.HOME,
    ...opts.env,
  };
  const fd = opts.logFile ? openSync(opts.logFile, 'a', 0o640) : undefined;
  const child = spawn(process.execPath, [agentMainPath(), 'instance'], {
    env,
    uid: ids?.uid,
    gid: ids?.gid,
    detached: opts.detached ?? false,
    // Detached without a log file: nothing may tie the child to this process.
    stdio: fd !== undefined ? ['ignore', fd, fd] : opts.detached ? 'ignore' : ['ignore', 'pipe', 'pipe'],
  });
  if (fd !== undefined) closeSync(fd);
  let out = '';
  const keep = (c: Buffer) => {
    out = (out + c.toString('utf8')).slice(-256 * 1024);
    if (process.env.PGOPS_TEST_VERBOSE) process.stderr.write(c);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  void exited.then(() => (done = true));
  if (opts.detached) child.unref();
  const healthPort = Number(opts.env.PGOPS_HEALTH_PORT ?? 8008);
  return {
    pid: child.pid!,
    exited,
    output: () => out,
    kill9: () => {
      if (!done) child.kill('SIGKILL');
    },
    async stop(timeoutMs = 60_000) {
      if (!done) child.kill('SIGTERM');
      const timer = setTimeout(() => !done && child.kill('SIGKILL'), timeoutMs);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
    async waitReady(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (done) {
          const r = await exited;
          throw new OperationFailed(
            'E_AGENT_EXITED',
            `postgres-agent instance exited (${r.code ?? r.signal}) before it was ready:\n${out.split('\n').slice(-15).join('\n')}`,
          );
        }
        const left = deadline - Date.now();
        try {
          await waitForHealth(healthPort, '/healthz/ready', Math.max(0, Math.min(1000, left)));
          return;
        } catch (err) {
          if (left <= 0) throw err;
        }
      }
    },
  };
}

function getStatus(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Polls an endpoint of the agent's health server until it answers 200; returns the JSON body. */
export async function waitForHealth(port: number, path: string, timeoutMs = 60_000): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    try {
      const r = await getStatus(port, path);
      if (r.status === 200) return JSON.parse(r.body) as unknown;
      last = r.body.trim();
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new OperationFailed(
        'E_NOT_HEALTHY',
        `${path} on port ${port} did not answer 200 within ${timeoutMs} ms: ${last}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One GET of an endpoint of the agent's health server: status code and parsed body. */
export async function fetchHealth(port: number, path: string): Promise<{ status: number; body: unknown }> {
  const r = await getStatus(port, path);
  return { status: r.status, body: JSON.parse(r.body) as unknown };
}
