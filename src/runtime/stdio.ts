/**
 * A reader that goes away (`postgres-ops --help | head`, a closed terminal, a parent that stopped
 * reading) must not crash the program with an EPIPE stack trace. Once stdout or stderr is closed,
 * what would have gone there is dropped and the program goes on quietly: an operation half way
 * (a restore, a promotion) must never stop because nobody reads its progress any more. Commands
 * that would print forever (`monitor`) ask `outputClosed()` and end.
 */
const closed = new Set<NodeJS.WriteStream>();
const guarded = new WeakSet<NodeJS.WriteStream>();

function isPipeGone(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED' || err.code === 'ECONNRESET';
}

function guard(stream: NodeJS.WriteStream) {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (!isPipeGone(err)) throw err;
    closed.add(stream);
    // Later writes go nowhere instead of raising again on a destroyed stream.
    stream.write = () => true;
  });
}

/** Installs the EPIPE handling on stdout and stderr (idempotent). */
export function guardStdio(): void {
  guard(process.stdout);
  guard(process.stderr);
}

/** True once whoever read stdout has gone away. */
export function outputClosed(): boolean {
  return closed.has(process.stdout);
}
