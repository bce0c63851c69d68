/** Flags every postgres-ops command understands (declared once on the program in program.ts). */
import type { OutputFormat } from '../core/output.js';

export interface GlobalOptions {
  namespace?: string;
  context?: string;
  /** A kubeconfig file, as kubectl's --kubeconfig. */
  kubeconfig?: string;
  release: string;
  output: OutputFormat;
  yes?: boolean;
  local?: boolean;
  stateDir?: string;
  debug?: boolean;
}

export const DEFAULT_RELEASE = 'pyairtable-stack';
