/**
 * A command line that runs this same postgres-agent (for the hooks Patroni runs): the Node binary
 * and the agent's entry point, quoted for Patroni, which splits the line as a POSIX shell would.
 */
import { fileURLToPath } from 'node:url';

export function agentEntryPoint(): string {
  return fileURLToPath(new URL('../../agent/main.js', import.meta.url));
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function agentCommand(...args: string[]): string {
  return [process.execPath, agentEntryPoint(), ...args].map(shellQuote).join(' ');
}
