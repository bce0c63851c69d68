import { UsageError } from '../errors.js';

/** DNS-1123 subdomain, as Kubernetes requires of object names (we keep to 63 so names stay label-safe). */
const DNS1123 = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`
  );
}

/** `<release>-postgres-YYYYMMDD-HHMMSS` (UTC); the release part is shortened so the name fits 63. */
export function defaultSnapshotName(release: string, now: Date): string {
  const suffix = `-postgres-${stamp(now)}`;
  const head = release.slice(0, 63 - suffix.length).replace(/[-.]+$/, '');
  return `${head}${suffix}`;
}

/** Checks a snapshot name; a bad one is a usage error (exit 2) naming a good alternative. */
export function validateSnapshotName(name: string): string {
  if (name.length > 63 || !DNS1123.test(name)) {
    const suggestion =
      name
        .toLowerCase()
        .replace(/[^a-z0-9.-]+/g, '-')
        .replace(/^[-.]+|[-.]+$/g, '')
        .slice(0, 63)
        .replace(/[-.]+$/, '') || 'emergency-snapshot';
    throw new UsageError(
      'E_SNAPSHOT_NAME',
      `snapshot name "${name}" is not a valid Kubernetes object name (lowercase letters, digits, "-" and ".", starting and ending with a letter or digit, at most 63 characters)`,
      { name },
      { hint: `A valid name: ${suggestion}` },
    );
  }
  return name;
}
