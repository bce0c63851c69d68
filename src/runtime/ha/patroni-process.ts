/**
 * The Patroni child of `postgres-agent instance`. Its output (and PostgreSQL's, which inherits
 * Patroni's stderr) is read line by line so the agent can relay it and act on a few events.
 * Patroni removes PATRONI_* variables from what it passes on; credentials live in its YAML file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class PatroniProcess {
  private readonly child: ChildProcess;
  readonly exited: Promise<ProcessExit>;
  exitInfo: ProcessExit | undefined;
  readonly startedAt = Date.now();

  constructor(bin: string, configFile: string, env: NodeJS.ProcessEnv, onLine: (line: string) => void) {
    this.child = spawn(bin, [configFile], { stdio: ['ignore', 'pipe', 'pipe'], env });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
    }
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        onLine(`could not run ${bin}: ${err.message}`);
      });
      this.child.on('close', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exitInfo === undefined && this.child.pid !== undefined;
  }

  signal(sig: NodeJS.Signals) {
    if (this.alive) this.child.kill(sig);
  }
}
