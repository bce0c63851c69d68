/** Flags every postgres-ops command understands: declared once on the program in program.ts. */
import type { RootOptions } from './program.js';

export type GlobalOptions = RootOptions;

export const DEFAULT_RELEASE = 'pyairtable-stack';
