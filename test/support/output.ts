/** An output host that records what a command printed, for tests that call commands directly. */
import { SafetyRefusal } from '../../src/core/errors.js';
import type { OutputHost, Terminal } from '../../src/core/output.js';

export interface Recorded {
  lines: string[];
  results: unknown[];
  /** What went to stdout/stderr as text (frames, a child's output, notes). */
  stdout: string[];
  stderr: string[];
}

/** Records everything; `confirm` agrees only with `yes` (as the console host does without a terminal). */
export function recordingHost(
  rec: Recorded = { lines: [], results: [], stdout: [], stderr: [] },
): OutputHost & {
  recorded: Recorded;
} {
  const terminal = (into: string[]): Terminal => ({
    isTTY: false,
    columns: undefined,
    write: (t) => void into.push(t),
  });
  return {
    recorded: rec,
    stdout: terminal(rec.stdout),
    stderr: terminal(rec.stderr),
    line: (t) => void rec.lines.push(t),
    result: (d) => void rec.results.push(d),
    raw: (t) => void rec.stderr.push(t),
    isInteractive: () => false,
    ask: async () => '',
    confirm: async ({ action, yes }) => {
      if (!yes)
        throw new SafetyRefusal('E_UNCONFIRMED', `refusing to ${action} without confirmation`, { action });
    },
  };
}
