/**
 * A postgres-agent run as a child process (local mode, the migration's safety backup) ends a
 * failure with its error block on stderr: `error: ...`, `hint: ...`, and the stack trace with
 * PGOPS_DEBUG. The parent relays the child's stderr as it comes (progress, logs) and then reports
 * the failure itself, so relaying that block too would print the same error twice. This relay
 * passes everything through except the closing error block, which it hands to the parent.
 */
import { envSwitch } from '../core/config/switch.js';

const ERROR_START = 'error: ';

export interface ChildError {
  message: string;
  hint?: string;
}

/** The message and hint of an error block as runCli prints it (undefined when there is none). */
export function parseErrorBlock(text: string): ChildError | undefined {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(ERROR_START));
  if (start < 0) return undefined;
  const message: string[] = [lines[start]!.slice(ERROR_START.length)];
  let hint: string | undefined;
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith('hint: ')) {
      hint = l.slice('hint: '.length);
      break;
    }
    // A stack trace (PGOPS_DEBUG) starts with the error's name; the message has ended.
    if (/^[A-Z]\w*(Error|Failed|Refusal): /.test(l) || l === '') break;
    message.push(l);
  }
  return { message: message.join('\n'), hint };
}

export class AgentStderrRelay {
  private carry = '';
  private held: string | undefined;
  private atLineStart = true;

  constructor(private readonly write: (text: string) => void) {}

  push(chunk: string): void {
    if (this.held !== undefined) {
      this.held += chunk;
      return;
    }
    const text = this.carry + chunk;
    this.carry = '';
    // The block starts at the beginning of a line (after a newline or a progress line's \r).
    let from = 0;
    for (;;) {
      const lineStart = from === 0 ? this.atLineStart : true;
      if (lineStart && text.startsWith(ERROR_START, from)) {
        this.emit(text.slice(0, from));
        this.held = text.slice(from);
        return;
      }
      const next = text.slice(from).search(/[\n\r]/);
      if (next < 0) break;
      from += next + 1;
    }
    // The last line may be the beginning of "error: " cut by the chunk boundary: keep it back.
    const tail = text.slice(from);
    const lineStart = from === 0 ? this.atLineStart : true;
    if (lineStart && tail.length < ERROR_START.length && ERROR_START.startsWith(tail) && tail !== '') {
      this.emit(text.slice(0, from));
      this.carry = tail;
      return;
    }
    this.emit(text);
  }

  private emit(text: string) {
    if (!text) return;
    this.write(text);
    this.atLineStart = /[\n\r]$/.test(text);
  }

  /**
   * After the child exited. On success anything held back is printed after all. On failure the
   * error block is returned for the parent to report (its stack trace is still shown with PGOPS_DEBUG).
   */
  end(ok: boolean): ChildError | undefined {
    const held = (this.held ?? '') + this.carry;
    this.held = undefined;
    this.carry = '';
    if (ok) {
      this.emit(held);
      return undefined;
    }
    const parsed = parseErrorBlock(held);
    if (!parsed) {
      this.emit(held);
      return undefined;
    }
    if (envSwitch(process.env.PGOPS_DEBUG)) {
      const stack = held.split('\n').findIndex((l) => /^\s+at /.test(l));
      if (stack > 0)
        this.emit(
          held
            .split('\n')
            .slice(stack - 1)
            .join('\n'),
        );
    }
    return parsed;
  }
}
