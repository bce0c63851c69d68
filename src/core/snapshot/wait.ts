import { OperationFailed } from '../errors.js';
import { classifyKubeError, isTransientKubeError } from './errors.js';
import type { SnapshotApi, VolumeSnapshot } from './model.js';

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface WaitOptions {
  timeoutMs: number;
  pollMs?: number;
  clock: Clock;
  /** Stop waiting as soon as this holds (default: readyToUse). */
  until?: (s: VolumeSnapshot) => boolean;
  /** Called after each poll that found it not yet ready (progress: "waiting … 30s"). */
  onPoll?: (waitedMs: number, current: VolumeSnapshot | undefined) => void;
}

function describeHint(api: SnapshotApi, name: string): string {
  return `Inspect it with: kubectl describe volumesnapshot ${name} -n ${api.namespace} (and the VolumeSnapshotClass's CSI driver and snapshot-controller logs).`;
}

/**
 * Polls a VolumeSnapshot until it is ready (or `until` holds). Fails at once on status.error, on the
 * object disappearing, or on a non-transient API error; fails after `timeoutMs` otherwise.
 */
export async function waitForSnapshot(
  api: SnapshotApi,
  name: string,
  opts: WaitOptions,
): Promise<VolumeSnapshot> {
  const until = opts.until ?? ((s: VolumeSnapshot) => s.status?.readyToUse === true);
  const pollMs = opts.pollMs ?? 2000;
  const start = opts.clock.now();
  const deadline = start + opts.timeoutMs;
  let last: VolumeSnapshot | null | undefined;
  for (;;) {
    // undefined after a transient failure: poll again rather than conclude anything.
    let current: VolumeSnapshot | null | undefined;
    try {
      current = await api.get(name);
      last = current;
    } catch (err) {
      if (!isTransientKubeError(err))
        throw classifyKubeError(err, `waiting for VolumeSnapshot ${name}`, {
          namespace: api.namespace,
          name,
        });
    }
    if (current === null) {
      throw new OperationFailed(
        'E_SNAPSHOT_GONE',
        `VolumeSnapshot ${name} disappeared while waiting for it to become ready`,
        { name, namespace: api.namespace },
        { hint: 'Someone or something deleted it; run the snapshot again.' },
      );
    }
    if (current) {
      if (current.status?.error?.message && current.status.readyToUse !== true) {
        throw new OperationFailed(
          'E_SNAPSHOT_FAILED',
          `VolumeSnapshot ${name} failed: ${current.status.error.message}`,
          { name, namespace: api.namespace },
          { hint: describeHint(api, name) },
        );
      }
      if (until(current)) return current;
    }
    const now = opts.clock.now();
    if (now >= deadline) {
      throw new OperationFailed(
        'E_SNAPSHOT_TIMEOUT',
        `VolumeSnapshot ${name} was not ready after ${Math.round(opts.timeoutMs / 1000)}s (readyToUse=${String(last?.status?.readyToUse ?? false)})`,
        { name, namespace: api.namespace, timeoutSeconds: Math.round(opts.timeoutMs / 1000) },
        { hint: `${describeHint(api, name)} Raise PGOPS_SNAPSHOT_TIMEOUT_SECONDS for large volumes.` },
      );
    }
    opts.onPoll?.(now - start, current ?? last ?? undefined);
    await opts.clock.sleep(Math.min(pollMs, deadline - now));
  }
}
