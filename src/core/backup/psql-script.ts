/**
 * Reading a plain SQL script the way psql will, to find its meta-commands before psql runs it.
 * psql executes a backslash command wherever one appears outside quotes, comments and COPY data:
 * at the start of a line or in the middle of one (`SELECT 1; \! id`), and `\!` runs a shell
 * command. A script pg_dump wrote holds only `\restrict KEY` / `\unrestrict KEY` lines (15.14 and
 * later) and, with --create or from pg_dumpall, `\connect`; anything else was added by hand or by
 * someone tampering with the file.
 *
 * The scanner follows psql's lexer closely (strings, E'' strings, quoted identifiers, dollar
 * quotes, nested comments, `\;` and `\:`, COPY ... FROM stdin data up to `\.`). Where a script could
 * still make the two disagree (changing the client encoding or standard_conforming_strings through
 * a function call), psql's own restricted mode, which the restore turns on, refuses the command.
 */

export type MetaCommandKind = 'connect' | 'other';

/** A meta-command psql would run, at a 1-based line. */
export interface ScriptFinding {
  line: number;
  /** As written, with its backslash: `\!`, `\connect`, `\i`. */
  command: string;
  kind: MetaCommandKind;
  /** The line, shortened, without control characters (for the message). */
  excerpt: string;
}

export interface LineScan {
  /** The line is a `\restrict KEY` or `\unrestrict KEY` line as pg_dump writes it. */
  dumpRestrictLine: boolean;
  findings: ScriptFinding[];
}

type State =
  | { s: 'code' }
  | { s: 'comment'; depth: number }
  | { s: 'quote'; escapes: boolean }
  | { s: 'ident' }
  | { s: 'dollar'; tag: string }
  | { s: 'copy' };

const RESTRICT_LINE = /^\\(?:un)?restrict[ \t]+[A-Za-z0-9]{1,256}[ \t]*$/;
const IDENT_START = /[A-Za-z_\x80-\uffff]/;
const IDENT_CONT = /[A-Za-z0-9_$\x80-\uffff]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$/;
/** COPY <table> [(columns)] FROM STDIN, on a statement whose strings and comments are normalised. */
const COPY_FROM_STDIN =
  /^COPY\s+(?:BINARY\s+)?(?:"q"|[A-Za-z_\x80-\uffff][\w$\x80-\uffff]*)(?:\s*\.\s*(?:"q"|[A-Za-z_\x80-\uffff][\w$\x80-\uffff]*))*\s*(?:\([^()]*\)\s*)?FROM\s+STDIN\b/i;
const SET_STD_STRINGS =
  /^(?:SET\s+(?:SESSION\s+|LOCAL\s+)?standard_conforming_strings\s*(?:=|TO)\s*'?(\w+)'?|RESET\s+(?:standard_conforming_strings|ALL))\b/i;
const STATEMENT_TEXT_MAX = 400;

function excerptOf(line: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = line.replace(/[\x00-\x1f\x7f]/g, ' ').trim();
  return clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
}

/**
 * Feeds a script line by line (without the newline); keeps psql's lexical state across lines.
 * Text is best given as latin1 so that every byte is one character (bytes >= 0x80 are identifier
 * characters to psql, as here).
 */
export class PsqlScriptScanner {
  private state: State = { s: 'code' };
  private lineNo = 0;
  private parens = 0;
  private statement = '';
  private pendingCopies = 0;
  /** Statements ended by a `;` so far. */
  statementsEnded = 0;
  /** psql's view of standard_conforming_strings: on in every pg_dump script. */
  private stdStrings = true;

  get line(): number {
    return this.lineNo;
  }

  scanLine(raw: string): LineScan {
    this.lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const findings: ScriptFinding[] = [];
    if (this.state.s === 'copy') {
      if (line === '\\.') {
        this.pendingCopies--;
        this.state = { s: 'code' };
        if (this.pendingCopies > 0) this.state = { s: 'copy' };
      }
      return { dumpRestrictLine: false, findings };
    }
    if (this.state.s === 'code' && this.statement.trim() === '' && RESTRICT_LINE.test(line))
      return { dumpRestrictLine: true, findings };

    let i = 0;
    const n = line.length;
    const add = (t: string) => {
      if (this.statement.length < STATEMENT_TEXT_MAX) this.statement += t;
    };
    while (i < n) {
      const st = this.state;
      const c = line[i]!;
      if (st.s === 'comment') {
        if (c === '/' && line[i + 1] === '*') {
          st.depth++;
          i += 2;
        } else if (c === '*' && line[i + 1] === '/') {
          st.depth--;
          i += 2;
          if (st.depth === 0) {
            this.state = { s: 'code' };
            add(' ');
          }
        } else i++;
        continue;
      }
      if (st.s === 'quote') {
        if (st.escapes && c === '\\') i += 2;
        else if (c === "'" && line[i + 1] === "'") i += 2;
        else if (c === "'") {
          this.state = { s: 'code' };
          i++;
        } else {
          if (this.statement.length < STATEMENT_TEXT_MAX && /[\w]/.test(c)) add(c);
          i++;
        }
        if (this.state.s === 'code') add("'");
        continue;
      }
      if (st.s === 'ident') {
        if (c === '"' && line[i + 1] === '"') i += 2;
        else if (c === '"') {
          this.state = { s: 'code' };
          add('q"');
          i++;
        } else i++;
        continue;
      }
      if (st.s === 'dollar') {
        const end = line.indexOf(st.tag, i);
        if (end < 0) i = n;
        else {
          i = end + st.tag.length;
          this.state = { s: 'code' };
          add("'s'");
        }
        continue;
      }
      // code
      if (c === '-' && line[i + 1] === '-') break;
      if (c === '/' && line[i + 1] === '*') {
        this.state = { s: 'comment', depth: 1 };
        i += 2;
        continue;
      }
      if (c === "'") {
        this.state = { s: 'quote', escapes: !this.stdStrings };
        add("'");
        i++;
        continue;
      }
      if (c === '"') {
        this.state = { s: 'ident' };
        add('"');
        i++;
        continue;
      }
      if (c === '$') {
        const m = DOLLAR_TAG.exec(line.slice(i, i + 256));
        if (m) {
          this.state = { s: 'dollar', tag: m[0] };
          i += m[0].length;
          continue;
        }
        add(c);
        i++;
        continue;
      }
      if (IDENT_START.test(c)) {
        let j = i + 1;
        while (j < n && IDENT_CONT.test(line[j]!)) j++;
        const word = line.slice(i, j);
        const next = line[j];
        if (next === "'" && /^[eE]$/.test(word)) {
          this.state = { s: 'quote', escapes: true };
          add(" '");
          i = j + 1;
          continue;
        }
        if (next === "'" && /^[bBxXnN]$/.test(word)) {
          this.state = { s: 'quote', escapes: /^[nN]$/.test(word) && !this.stdStrings };
          add(" '");
          i = j + 1;
          continue;
        }
        if (/^[uU]$/.test(word) && next === '&' && (line[j + 1] === "'" || line[j + 1] === '"')) {
          this.state = line[j + 1] === "'" ? { s: 'quote', escapes: false } : { s: 'ident' };
          add(line[j + 1] === "'" ? " '" : ' "');
          i = j + 2;
          continue;
        }
        add(word);
        i = j;
        continue;
      }
      if (/[0-9]/.test(c)) {
        let j = i + 1;
        while (j < n && /[0-9A-Za-z_.]/.test(line[j]!)) j++;
        add(line.slice(i, j));
        i = j;
        continue;
      }
      if (c === '\\') {
        const next = line[i + 1];
        if (next === ';' || next === ':') {
          add(next);
          i += 2;
          continue;
        }
        const name = next === undefined ? '' : (/^[A-Za-z]+/.exec(line.slice(i + 1))?.[0] ?? next);
        const command = `\\${name}`;
        findings.push({
          line: this.lineNo,
          command,
          kind: /^(c|connect)$/.test(name) ? 'connect' : 'other',
          excerpt: excerptOf(line),
        });
        // psql takes the rest of the line as the command's arguments.
        break;
      }
      if (c === '(') this.parens++;
      else if (c === ')') this.parens = Math.max(0, this.parens - 1);
      else if (c === ';' && this.parens === 0) {
        this.endStatement();
        i++;
        continue;
      }
      add(/\s/.test(c) ? ' ' : c);
      i++;
    }
    add(' ');
    if (this.state.s === 'code' && this.pendingCopies > 0) this.state = { s: 'copy' };
    return { dumpRestrictLine: false, findings };
  }

  /** True when the script ended outside a string, comment or COPY data block. */
  get complete(): boolean {
    return this.state.s === 'code';
  }

  private endStatement() {
    this.statementsEnded++;
    const text = this.statement.replace(/\s+/g, ' ').trim();
    this.statement = '';
    if (COPY_FROM_STDIN.test(text)) this.pendingCopies++;
    const set = SET_STD_STRINGS.exec(text);
    if (set) this.stdStrings = set[1] === undefined || /^(on|true|yes|1|default)$/i.test(set[1]);
  }
}

/** True when `text` is exactly one SQL statement ending in `;` (no second one, no meta-command). */
export function isSingleStatement(text: string): boolean {
  const scanner = new PsqlScriptScanner();
  const r = scanner.scanLine(text.trim());
  return (
    r.findings.length === 0 &&
    !r.dumpRestrictLine &&
    scanner.complete &&
    scanner.statementsEnded === 1 &&
    /;\s*$/.test(text)
  );
}
