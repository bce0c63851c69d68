/**
 * Reading SQL text without a parser: where an error position falls (line:column) and where
 * top-level statements end (for files that run outside a transaction, one statement at a time).
 */

/**
 * PostgreSQL's error `position` is 1-based and counts characters (code points), not bytes or
 * UTF-16 units; returns the JS string index it designates, clamped to the text.
 */
export function positionToIndex(text: string, position: number): number {
  let index = 0;
  let chars = 1;
  while (index < text.length && chars < position) {
    const cp = text.codePointAt(index)!;
    index += cp > 0xffff ? 2 : 1;
    chars++;
  }
  return index;
}

/** 1-based line and column (in characters) of a JS string index. */
export function lineColumnAt(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  for (let i = 0; i < index && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      line++;
      column = 1;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      // low surrogate: the character was counted at its high half
    } else if (c !== 0x0d) {
      column++;
    }
  }
  return { line, column };
}

/** line:column in `text` of PostgreSQL's error position for a query that began at `offset` in it. */
export function errorLocation(text: string, position: number, offset = 0): { line: number; column: number } {
  const index = offset + positionToIndex(text.slice(offset), position);
  return lineColumnAt(text, index);
}

export interface SqlStatement {
  text: string;
  /** JS index in the file where the statement's text starts. */
  offset: number;
}

const identChar = /[A-Za-z0-9_$]/;

/**
 * Splits SQL at top-level semicolons, skipping quotes ('', E'', "", $tag$…$tag$) and comments
 * (--, nested /* *\/). Pieces that hold only whitespace and comments are dropped; leading comments are not
 * part of a statement. Function bodies
 * written as BEGIN ATOMIC … END contain bare semicolons and are not supported here.
 */
export function splitStatements(sql: string): SqlStatement[] {
  const out: SqlStatement[] = [];
  // Index of the statement's first character that is not whitespace or a comment (-1: none yet).
  let first = -1;
  let i = 0;
  const n = sql.length;
  const push = (end: number) => {
    if (first >= 0) out.push({ text: sql.slice(first, end).trimEnd(), offset: first });
    first = -1;
  };
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      continue;
    }
    if (c === ';') {
      push(i);
      i++;
      continue;
    }
    if (first < 0 && !/\s/.test(c)) first = i;
    if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(sql[i - 1]!) && (i < 2 || !identChar.test(sql[i - 2]!));
      i++;
      while (i < n) {
        if (escapes && sql[i] === '\\') i += 2;
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (c === '"') {
      i++;
      while (i < n) {
        if (sql[i] === '"' && sql[i + 1] === '"') i += 2;
        else if (sql[i] === '"') {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (c === '$' && (i === 0 || !identChar.test(sql[i - 1]!))) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 70));
      if (m) {
        const tag = m[0];
        const close = sql.indexOf(tag, i + tag.length);
        i = close < 0 ? n : close + tag.length;
        continue;
      }
    }
    i++;
  }
  push(n);
  return out;
}
