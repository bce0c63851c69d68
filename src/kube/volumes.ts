/** The members' data volumes: each PVC's size, and what `df` in the member's pod says is used. */
import type { VolumeUsage } from '../core/cluster/cluster-api.js';
import { type DiskUsage, diskUsageFromDf } from '../core/disk-usage.js';
import { listMembers } from './members.js';
import type { KubeRelease } from './release.js';

const DATA_MOUNT = '/var/lib/postgresql/data';

/** "10Gi" -> bytes. */
export function parseQuantity(q: string | undefined): number | null {
  if (!q) return null;
  const m = /^([0-9.]+)([KMGTPE]i?|k|m)?$/.exec(q.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  const pow: Record<string, number> = {
    '': 1,
    k: 1e3,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
    m: 1e-3,
  };
  const bin: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
  };
  return Math.round(n * (bin[unit] ?? pow[unit] ?? 1));
}

export async function volumeUsage(rel: KubeRelease): Promise<VolumeUsage[]> {
  const members = await listMembers(rel);
  // Every member at once, its PVC and its df at once: each is a round trip to the API server.
  return Promise.all(
    members.map(async (m): Promise<VolumeUsage> => {
      const pvcName = `postgres-storage-${m.name}`;
      const [pvc, usage] = await Promise.all([
        rel
          .api(`reading PVC ${pvcName}`, () =>
            rel.k.core.readNamespacedPersistentVolumeClaim({ name: pvcName, namespace: rel.namespace }),
          )
          .catch(() => undefined),
        m.running ? dataDiskUsage(rel, m.name) : undefined,
      ]);
      return {
        name: pvcName,
        member: m.name,
        capacityBytes: usage?.capacityBytes ?? parseQuantity(pvc?.status?.capacity?.storage) ?? null,
        usedBytes: usage?.usedBytes ?? null,
        availableBytes: usage?.availableBytes ?? null,
        usedPercent: usage?.usedPercent ?? null,
      };
    }),
  );
}

/** `df` of the data volume inside a running member's pod; undefined when it does not answer. */
async function dataDiskUsage(rel: KubeRelease, pod: string): Promise<DiskUsage | undefined> {
  const df = await rel
    .run(pod, ['df', '-P', '-B1', DATA_MOUNT], `df in ${pod}`, {
      timeoutMs: 30_000,
    })
    .catch(() => undefined);
  const cols = df?.stdout.trim().split('\n').pop()?.split(/\s+/).map(Number);
  return cols && cols.length >= 4 && cols.slice(1, 4).every(Number.isFinite)
    ? diskUsageFromDf(cols[1]!, cols[2]!, cols[3]!)
    : undefined;
}
