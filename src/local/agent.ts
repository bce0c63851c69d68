/**
 * Runs `postgres-agent` as a subprocess, exactly as the chart's Jobs do, with an environment built
 * from scratch (the operator's own PGOPS_* variables never leak into it: the agent rejects unknown
 * ones). Its errors come back with the agent's own message, hint and exit code.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { envSwitch } from '../core/config/switch.js';
import type { z } from 'zod';
import { errorOutputSchema, parseAgentOutput } from '../core/agent-output.js';
import { relayedCode } from '../core/error-codes.js';
import { OperationFailed, OpsError, type ExitCode } from '../core/errors.js';
import { AgentStderrRelay, parseErrorBlock } from '../runtime/agent-stderr.js';
import { exec } from '../runtime/exec.js';
import { packageRoot } from './state.js';

/** dist/agent/main.js next to this build (or the package's dist when run from source). */
export function agentMainPath(): string {
  const sibling = fileURLToPath(new URL('../agent/main.js', import.meta.url));
  if (existsSync(sibling)) return sibling;
  const built = join(packageRoot(), 'dist', 'agent', 'main.js');
  if (existsSync(built)) return built;
  throw new OperationFailed(
    'E_NO_AGENT',
    'postgres-agent is not built (dist/agent/main.js is missing)',
    {},
    { hint: 'Build it: npm run build (scripts/postgres-ops.sh does this for you)' },
  );
}

/** The few variables child processes need (and the debug switch, set by --debug). */
export function baseEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'TZ', 'LANG', 'LC_ALL', 'NODE_OPTIONS'])
    if (process.env[k]) env[k] = process.env[k];
  if (envSwitch(process.env.PGOPS_DEBUG)) env.PGOPS_DEBUG = '1';
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface AgentRun {
  args: string[];
  env: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  /** Progress lines from the agent's stderr. */
  onLog?: (chunk: string) => void;
  /**
   * While the agent runs, SIGINT/SIGTERM/SIGHUP received here are passed on to it and this process
   * waits for its outcome, so that it can stop cleanly and its error is reported.
   */
  forwardSignals?: boolean;
}

/**
 * Runs `postgres-agent <args> -o json` and returns its JSON result, parsed with `schema`: the one
 * the agent's result is typed by (an agent of another version may print another shape).
 */
export async function runAgentJson<S extends z.ZodType>(run: AgentRun, schema: S): Promise<z.output<S>> {
  const forward = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => forward.abort(sig);
  const signals: NodeJS.Signals[] = run.forwardSignals ? ['SIGINT', 'SIGTERM', 'SIGHUP'] : [];
  for (const s of signals) process.on(s, onSignal);
  // The agent's closing error block is not relayed: the error thrown below says it, once.
  const relay = run.onLog ? new AgentStderrRelay(run.onLog) : undefined;
  const r = await exec(process.execPath, [agentMainPath(), ...run.args, '-o', 'json'], {
    env: run.env,
    uid: run.uid,
    gid: run.gid,
    onStderr: relay ? (c) => relay.push(c) : undefined,
    signal: run.forwardSignals ? forward.signal : undefined,
    killSignal: () => forward.signal.reason as NodeJS.Signals,
  }).finally(() => {
    for (const s of signals) process.off(s, onSignal);
  });
  const relayed = relay?.end(r.code === 0);
  const text = r.stdout.trim();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      // Progress text before the JSON document: take the last JSON value printed.
      const start = text.search(/^[[{]/m);
      if (start >= 0) {
        try {
          parsed = JSON.parse(text.slice(start));
        } catch {
          parsed = undefined;
        }
      }
    }
  }
  if (r.code === 0) return parseAgentOutput(run.args[0]!, schema, parsed);
  const err = errorOutputSchema.safeParse(parsed).data?.error;
  const block = relayed ?? parseErrorBlock(r.stderr);
  const message =
    err?.message ?? block?.message ?? (r.stderr.trim().split('\n').slice(-3).join('\n') || `exit ${r.code}`);
  const exitCode: ExitCode = r.code === 2 || r.code === 3 ? r.code : 1;
  throw new OpsError(
    relayedCode(err?.code, 'E_AGENT'),
    `postgres-agent ${run.args[0]}: ${message}`,
    exitCode,
    err?.meta ?? {},
    {
      hint: err?.hint ?? block?.hint,
    },
  );
}
