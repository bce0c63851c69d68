/**
 * The SQL files of one migration version: which ones count, their order, their checksums and
 * whether they run inside the version's transaction.
 */
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';

export interface MigrationFile {
  name: string;
  text: string;
}

export interface PlannedFile extends MigrationFile {
  sha256: string;
  /** Runs outside the version's transaction (first line `-- pgops:no-transaction`). */
  noTransaction: boolean;
}

/** First-line marker for statements PostgreSQL refuses inside a transaction (CREATE INDEX CONCURRENTLY). */
export const NO_TRANSACTION_MARKER = '-- pgops:no-transaction';

const FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*\.sql$/;

/** Names that are migration files; ConfigMap mounts add hidden `..data` entries, which are skipped. */
export function isMigrationFileName(name: string): boolean {
  return !name.startsWith('.') && name.endsWith('.sql');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function hasNoTransactionMarker(text: string): boolean {
  const first = (text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '').trim();
  return first.toLowerCase() === NO_TRANSACTION_MARKER;
}

/**
 * Orders the files by name (byte order, so 010 sorts after 002 only with zero padding, as
 * documented) and checks the rules: sane names, at least one file, and files that run outside the
 * transaction come after every transactional one, so that name order is also execution order.
 */
export function prepareFiles(version: string, files: MigrationFile[], dir: string): PlannedFile[] {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (sorted.length === 0) {
    throw new UsageError(
      'E_MIGRATION_EMPTY',
      `no .sql files for migration ${version} in ${dir}`,
      { version, dir },
      {
        hint: `Put the version's files in ${dir} (chart: helm/pyairtable-stack/files/migrations/${version}/ or databases.postgres.migration.configMap).`,
      },
    );
  }
  for (const f of sorted) {
    if (!FILE_RE.test(f.name)) {
      throw new UsageError(
        'E_MIGRATION_FILE',
        `migration file name "${f.name}" is not allowed`,
        { file: f.name },
        {
          hint: 'Name files like 001_users.sql: letters, digits, ".", "_", "-", ending in .sql.',
        },
      );
    }
  }
  const planned = sorted.map((f) => ({
    ...f,
    sha256: sha256(f.text),
    noTransaction: hasNoTransactionMarker(f.text),
  }));
  const firstOutside = planned.findIndex((f) => f.noTransaction);
  if (firstOutside >= 0) {
    const late = planned.slice(firstOutside).find((f) => !f.noTransaction);
    if (late) {
      throw new UsageError(
        'E_MIGRATION_ORDER',
        `${planned[firstOutside]!.name} runs outside the transaction but sorts before ${late.name}, which runs inside it`,
        { version, file: planned[firstOutside]!.name },
        {
          hint: `Rename ${planned[firstOutside]!.name} so it sorts after every other file (e.g. 900_${planned[firstOutside]!.name}).`,
        },
      );
    }
  }
  return planned;
}

/** sha256 over the sorted names and contents; a rename, an edit, an added or removed file all change it. */
export function versionChecksum(files: PlannedFile[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    // Length-prefixed so that moving text from one file to the next also changes the sum.
    h.update(`${f.name}\0${Buffer.byteLength(f.text, 'utf8')}\0`);
    h.update(f.text, 'utf8');
  }
  return h.digest('hex');
}

const TX_CONTROL = /^(begin|start\s+transaction|commit|rollback|abort)\b(?!\s+to\b)(?!\s+atomic\b)/i;

/**
 * Transaction control inside a file would end the version's transaction half way and break
 * all-or-nothing, so it is refused before anything runs. `statements` maps a file to its statements.
 */
export function checkNoTransactionControl(
  files: PlannedFile[],
  statements: (f: PlannedFile) => { text: string }[],
): void {
  for (const f of files) {
    if (f.noTransaction) continue;
    const bad = statements(f)
      .map((st) => st.text.replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, ''))
      .find((text) => TX_CONTROL.test(text));
    if (bad) {
      const word = bad.split(/\s+/, 1)[0]!.toUpperCase();
      throw new UsageError(
        'E_MIGRATION_TX_CONTROL',
        `${f.name} contains ${word}: the files of a version run in one transaction that postgres-agent opens and commits`,
        { file: f.name },
        {
          hint: `Remove ${word} from ${f.name}. For statements that cannot run in a transaction, put them in their own file whose first line is "${NO_TRANSACTION_MARKER}".`,
        },
      );
    }
  }
}
