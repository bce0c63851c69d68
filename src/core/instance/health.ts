/**
 * Probe answers from one snapshot of what the agent knows about its member (Patroni's own answers,
 * PostgreSQL's, and the volume). Kept pure so the rules are tested without a server: a replica is
 * ready only while streaming and close enough; a full disk is never a reason to restart.
 */
export type Phase = 'initializing' | 'starting' | 'running' | 'reinitializing' | 'disk-full' | 'stopping';

export interface HealthSnapshot {
  phase: Phase;
  /** When the agent loop last completed a tick (ms since epoch). */
  lastTickAt: number;
  /** The Patroni process runs. */
  patroniAlive: boolean;
  /** Since when Patroni has not been running (ms since epoch), while it is not. */
  patroniDownSince?: number;
  /** Patroni's own /liveness and /readiness answers (undefined: not asked yet or no answer). */
  patroniLive?: boolean;
  patroniReady?: boolean;
  /** PostgreSQL's state as Patroni reports it (running, starting, stopped, creating replica, ...). */
  postgresState?: string;
  /** A local query answered. */
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
/** How long Patroni may be down (restarting) before the container counts as not alive. */
const PATRONI_DOWN_MS = 120_000;

/** Started once Patroni answers: cloning a large database may take hours and is progress, not a hang. */
export function startupProbe(s: HealthSnapshot): ProbeAnswer {
  if (s.everAccepted || s.patroniLive !== undefined) return { ok: true, reasons: [] };
  return { ok: false, reasons: [`Patroni has not answered yet (${s.phase})`] };
}

export function readinessProbe(s: HealthSnapshot, maxLagBytes: number): ProbeAnswer {
  const reasons: string[] = [];
  if (s.phase === 'disk-full') reasons.push(s.reason ?? 'the data volume is full');
  else if (s.phase !== 'running') reasons.push(`member is ${s.phase}${s.reason ? `: ${s.reason}` : ''}`);
  else if (!s.accepting) reasons.push('PostgreSQL does not accept connections');
  else if (s.patroniReady === false)
    reasons.push(`Patroni reports not ready (PostgreSQL ${s.postgresState ?? '?'})`);
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
 * Liveness fails only when restarting the container would help: the agent loop is stuck, Patroni's
 * own heartbeat is stale, or Patroni cannot be kept running. Cloning, waiting for a leader and a
 * full disk are all alive.
 */
export function livenessProbe(s: HealthSnapshot, now: number): ProbeAnswer {
  const reasons: string[] = [];
  if (now - s.lastTickAt > TICK_STALE_MS) reasons.push(`agent loop has not run for ${now - s.lastTickAt} ms`);
  if (!s.patroniAlive && s.patroniDownSince !== undefined && now - s.patroniDownSince > PATRONI_DOWN_MS)
    reasons.push(`Patroni has not been running for ${Math.round((now - s.patroniDownSince) / 1000)} s`);
  if (s.patroniAlive && s.patroniLive === false) reasons.push("Patroni's heartbeat is stale (/liveness 503)");
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
    `Expand the volume: ${command} - the member recovers by itself; delete no files.`;
  return { message, command };
}
