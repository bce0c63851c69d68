import type { OpsDeps } from '../deps.js';

/** Checks a backup (or all with --all) through the agent; --deep restores into a scratch database. */
export async function verify(
  file: string | undefined,
  flags: { deep?: boolean; all?: boolean },
  deps: OpsDeps,
) {
  const result = await deps.cluster.verify(file, flags, deps.out);
  deps.out.result(result, deps.opts.output, (r) => {
    const list = Array.isArray(r) ? r : [r];
    return list
      .map((x) => {
        const v = x as { name?: string; file?: string; ok?: boolean; verified?: boolean; deep?: boolean };
        const ok = v.ok ?? v.verified;
        return `${v.name ?? v.file ?? '?'}: ${ok === false ? 'FAILED' : 'verified'}${v.deep ? ' (deep)' : ''}`;
      })
      .join('\n');
  });
  return result;
}
