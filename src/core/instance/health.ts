/**
 * Probe answers from one snapshot of what the supervisor knows. Kept pure so the rules (a replica is
 * ready only while streaming and close enough; a full disk is not a reason to restart) are tested
 * without a server.
 */
export type Phase =
  | 'initializing'
  | 'bootstrapping'
  | 'cloning'
  | 'rewinding'
  | 'waiting'
  | 'starting'
  | 'running'
  | 'disk-full'
  | 'stopping';

export interface HealthSnapshot {
  phase: Phase;
  /** When the supervisor loop last completed a tick (ms since epoch). */
  lastTickAt: number;
  postmasterAlive: boolean;
  /** The last local query answered (SELECT 1 within the timeout). */
  accepting: boolean;
  everAccepted: boolean;
  inRecovery?: boolean;
  walReceiverStatus?: string | null;
  lagBytes?: number | null;
  timeline?: number;
  lsn?: string;
  upstream?: string;
  reason?: string;
  diskUsedPercent?: number;
}

export interface ProbeAnswer {
  ok: boolean;
  reasons: string[];
}

const TICK_STALE_MS = 30_000;

export function startupProbe(s: HealthSnapshot): ProbeAnswer {
  if (s.everAccepted) return { ok: true, reasons: [] };
  return { ok: false, reasons: [`PostgreSQL has not accepted connections yet (${s.phase})`] };
}

export function readinessProbe(s: HealthSnapshot, maxLagBytes: number): ProbeAnswer {
  const reasons: string[] = [];
  if (s.phase === 'disk-full') reasons.push(s.reason ?? 'the data volume is full');
  else if (s.phase !== 'running') reasons.push(`instance is ${s.phase}${s.reason ? `: ${s.reason}` : ''}`);
  else if (!s.accepting) reasons.push('PostgreSQL does not accept connections');
  else if (s.inRecovery) {
    if (s.walReceiverStatus !== 'streaming')
      reasons.push(`replica is not streaming (wal receiver: ${s.walReceiverStatus ?? 'not running'})`);
    if (s.lagBytes === null || s.lagBytes === undefined) reasons.push('replay lag is unknown');
    else if (s.lagBytes > maxLagBytes)
      reasons.push(`replay lag ${s.lagBytes} bytes exceeds PGOPS_MAX_LAG_BYTES=${maxLagBytes}`);
  }
  return { ok: reasons.length === 0, reasons };
}

/**
 * Liveness fails only when restarting the container would help: the agent loop is stuck, or the
 * postmaster is gone or hangs. Bootstrapping, cloning, waiting for a primary and a full disk are
 * all alive.
 */
export function livenessProbe(s: HealthSnapshot, now: number): ProbeAnswer {
  const reasons: string[] = [];
  if (now - s.lastTickAt > TICK_STALE_MS) reasons.push(`agent loop has not run for ${now - s.lastTickAt} ms`);
  if (s.phase === 'running') {
    if (!s.postmasterAlive) reasons.push('postmaster is not running');
    else if (!s.accepting) reasons.push('PostgreSQL does not answer');
  }
  return { ok: reasons.length === 0, reasons };
}

/** The message and the command that expands the volume, for a full data disk. */
export function fullDiskMessage(opts: {
  pvc?: string;
  dataDir: string;
  usedPercent: number;
  sizeBytes: number;
}): { message: string; command: string } {
  const pvc = opts.pvc ?? '<data-pvc>';
  const biggerGi = Math.max(1, Math.ceil((opts.sizeBytes * 2) / 1024 ** 3));
  const command = `kubectl patch pvc ${pvc} -p '{"spec":{"resources":{"requests":{"storage":"${biggerGi}Gi"}}}}'`;
  const message =
    `the data volume ${opts.pvc ? `(PVC ${opts.pvc}) ` : ''}holding ${opts.dataDir} is full ` +
    `(${opts.usedPercent.toFixed(1)}% used): PostgreSQL cannot run until it has space. ` +
    `Expand the volume: ${command} - the instance retries and recovers by itself; delete no files.`;
  return { message, command };
}

/**
 * True when a PostgreSQL log excerpt shows it stopped for lack of disk space. A short write is
 * reported with the hint "Check free disk space."; other write errors (permissions, I/O) are not a
 * full disk, even on a path that contains the word "space".
 */
export function logShowsNoSpace(text: string): boolean {
  return /No space left on device|could not extend file|Check free disk space/i.test(text);
}

/** True when a failed start is only the previous postmaster's processes still holding the directory. */
export function logShowsDirectoryBusy(text: string): boolean {
  return /lock file .* already exists|pre-existing shared memory block .* is still in use|Address already in use|Is another postmaster/i.test(
    text,
  );
}
