/**
 * Start-up and fencing decisions, free of I/O: the supervisor gathers facts (what the data directory
 * holds, what each peer answered) and these functions say what to do. The rules are documented in
 * docs/instance.md; the one that matters most: never start a second primary.
 */
export type DataDirKind = 'empty' | 'primary' | 'standby' | 'foreign';

/** What a reachable member answered. */
export interface PeerFacts {
  host: string;
  port: number;
  inRecovery: boolean;
  timeline: number;
  systemIdentifier: string;
}

export type StartPlan =
  | { action: 'bootstrap' }
  | { action: 'clone' }
  | { action: 'start-primary' }
  | { action: 'start-standby'; upstream?: { host: string; port: number } }
  | { action: 'rewind'; source: PeerFacts }
  | { action: 'wait'; reason: string };

export interface StartFacts {
  role: 'primary' | 'replica';
  dataDir: DataDirKind;
  /** Timeline and system identifier of the data directory (from pg_controldata), when it has one. */
  localTimeline?: number;
  localSystemIdentifier?: string;
  /** Members that answered (PGOPS_PRIMARY_HOST and PGOPS_PEERS). */
  peers: PeerFacts[];
  primaryHost?: { host: string; port: number };
  /** Timeline recorded by `postgres-agent promote` in this data directory (PROMOTED_MARKER). */
  promotedTimeline?: number;
}

/** File in PGDATA where `postgres-agent promote` records the timeline it promoted to. */
export const PROMOTED_MARKER = 'pgops-promoted.json';

/** Primaries of our cluster (same system identifier) among the members that answered, newest timeline first. */
export function primariesOfCluster(peers: PeerFacts[], systemIdentifier?: string): PeerFacts[] {
  return peers
    .filter((p) => !p.inRecovery && (!systemIdentifier || p.systemIdentifier === systemIdentifier))
    .sort((a, b) => b.timeline - a.timeline);
}

export function planStart(f: StartFacts): StartPlan {
  if (f.dataDir === 'empty') return f.role === 'primary' ? { action: 'bootstrap' } : { action: 'clone' };
  if (f.dataDir === 'foreign') return { action: 'wait', reason: 'foreign' };
  const local = f.localTimeline ?? 0;
  const primaries = primariesOfCluster(f.peers, f.localSystemIdentifier);
  if (f.dataDir === 'standby') {
    // Follow the newest primary that is not behind us; else the configured one.
    const best = primaries.find((p) => p.timeline >= local);
    if (best) return { action: 'start-standby', upstream: { host: best.host, port: best.port } };
    return { action: 'start-standby', upstream: f.primaryHost };
  }
  // The directory was a primary.
  const newer = primaries.find((p) => p.timeline > local);
  if (newer) return { action: 'rewind', source: newer };
  const same = primaries.find((p) => p.timeline === local);
  if (same) {
    return {
      action: 'wait',
      reason: `${same.host}:${same.port} is already a primary of this cluster on the same timeline ${local}`,
    };
  }
  // A primary behind our timeline that still takes writes (it came back while this member was down,
  // or a promotion was forced): starting would make two primaries, and only a person can choose
  // whose writes to keep.
  const older = primaries.find((p) => p.timeline < local);
  if (older) {
    return {
      action: 'wait',
      reason: `${older.host}:${older.port} is a primary of this cluster on the older timeline ${older.timeline} (this directory is on ${local}) and still accepts writes`,
    };
  }
  // A replica-role member promoted on purpose into this very timeline is the primary now; it is
  // fenced like any primary by the rules above.
  const promotedHere = f.promotedTimeline !== undefined && f.promotedTimeline === local;
  if (f.role === 'replica' && !promotedHere) {
    const where = f.primaryHost
      ? `${f.primaryHost.host}:${f.primaryHost.port}`
      : 'PGOPS_PRIMARY_HOST (unset)';
    return {
      action: 'wait',
      reason: `this data directory is a primary (timeline ${local}) but PGOPS_ROLE is replica and no newer primary answers at ${where}`,
    };
  }
  return { action: 'start-primary' };
}

/** The timeline in a WAL file name (first 8 hex digits), e.g. from pg_walfile_name(). */
export function timelineOfWalFile(name: string): number {
  return parseInt(name.slice(0, 8), 16);
}

/** Parses `host:port,host:port` (PGOPS_PEERS); a missing port means `defaultPort`. */
export function parsePeers(text: string, defaultPort: number): { host: string; port: number }[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(s);
      if (!m) return { host: s, port: defaultPort };
      return { host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : defaultPort };
    });
}

/** Exponential backoff with a cap: 1 s, 2 s, 4 s ... 30 s. */
export function backoffMs(attempt: number, baseMs = 1000, capMs = 30_000): number {
  return Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
}
