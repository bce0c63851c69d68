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
  | { action: 'wait'; reason: string; hint?: string };

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
  if (f.dataDir === 'empty') return f.role === 'primary' ? planEmptyPrimary(f.peers) : { action: 'clone' };
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

/**
 * An empty volume with role primary: initdb only when no member answers. A member that answers runs
 * PostgreSQL on data (a primary, or a standby of one), so this volume was lost or replaced, and a new
 * empty cluster behind the read-write Service would hide that data from the application. On a fresh
 * install nobody answers: replicas run no server until they have cloned from the primary.
 */
export function planEmptyPrimary(peers: PeerFacts[]): StartPlan {
  if (peers.length === 0) return { action: 'bootstrap' };
  const ordered = [...peers].sort(
    (a, b) => Number(a.inRecovery) - Number(b.inRecovery) || b.timeline - a.timeline,
  );
  const reason = `the data directory is empty but ${ordered.length === 1 ? 'a member runs' : 'members run'} PostgreSQL with data: ${ordered.map(describePeer).join('; ')}; not creating a new, empty cluster`;
  const primary = ordered.find((p) => !p.inRecovery);
  const first = primary
    ? `clone the running primary: restart this member with PGOPS_ROLE=replica and PGOPS_PRIMARY_HOST=${primary.host} PGOPS_PRIMARY_PORT=${primary.port}`
    : `promote a replica (postgres-ops promote ${memberName(ordered[0]!)}), then restart this member with PGOPS_ROLE=replica pointing at it to clone`;
  return {
    action: 'wait',
    reason,
    hint: `Keep the data the members hold: ${first}; or restore a backup or volume snapshot into this volume with the pod stopped. Only if their data is really to be abandoned, stop them: this member then bootstraps an empty cluster.`,
  };
}

/** `host:port (primary|standby, timeline N, system identifier S)`, as the logs show a member. */
export function describePeer(p: PeerFacts): string {
  return `${p.host}:${p.port} (${p.inRecovery ? 'standby' : 'primary'}, timeline ${p.timeline}, system identifier ${p.systemIdentifier})`;
}

/** The pod name in a member's Kubernetes DNS name (its first label); for an IP address, a placeholder. */
function memberName(p: PeerFacts): string {
  if (/^[\d.]+$/.test(p.host) || p.host.includes(':')) return `<the replica at ${p.host}:${p.port}>`;
  return p.host.split('.')[0]!;
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
