/**
 * The confirmation every destructive command asks for. `--yes` skips it; without a terminal and
 * without `--yes` the command is refused (exit 3) saying what would have happened, so a script
 * never destroys something because nobody was there to read the question.
 */
import { createInterface } from 'node:readline/promises';
import { SafetyRefusal } from '../core/errors.js';

export interface ConfirmRequest {
  /** What will happen, e.g. "replace database pyairtable with backup nightly". */
  action: string;
  /** The command line to re-run with --yes. */
  retry: string;
}

export type Confirm = (req: ConfirmRequest) => Promise<void>;

export function makeConfirm(yes: boolean | undefined): Confirm {
  return async ({ action, retry }) => {
    if (yes) return;
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw new SafetyRefusal(
        'E_UNCONFIRMED',
        `refusing to ${action} without confirmation (no terminal to ask on)`,
        { action },
        { hint: `Nothing was changed. To go ahead, run: ${retry} --yes` },
      );
    }
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = await rl.question(`This will ${action}.\nType "yes" to continue: `);
      if (answer.trim().toLowerCase() !== 'yes')
        throw new SafetyRefusal(
          'E_DECLINED',
          `did not ${action}: not confirmed`,
          { action },
          {
            hint: 'Nothing was changed.',
          },
        );
    } finally {
      rl.close();
    }
  };
}
