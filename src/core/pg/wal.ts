/** WAL file names and LSNs as PostgreSQL prints them. */

/** The timeline in a WAL file name (its first 8 hex digits). */
export function timelineOfWalFile(name: string): number {
  return parseInt(name.slice(0, 8), 16);
}

/** An LSN ("16/B374D848") as a byte position, to compute lag without a round trip. */
export function parseLsn(lsn: string | null | undefined): bigint | null {
  if (!lsn) return null;
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!m) return null;
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/** Bytes `behind` is behind `ahead`; never negative (a standby may report a position just past ours). */
export function lsnDiff(ahead: string | null | undefined, behind: string | null | undefined): number | null {
  const a = parseLsn(ahead);
  const b = parseLsn(behind);
  if (a === null || b === null) return null;
  return a > b ? Number(a - b) : 0;
}
