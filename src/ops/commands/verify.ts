import type { OpsDeps } from '../deps.js';
import type { ArgsOf, OptionsOf } from '../program.js';

/** Checks a backup (or all with --all) through the agent; --deep restores into a scratch database. */
export async function verify([file]: ArgsOf<'verify'>, flags: OptionsOf<'verify'>, deps: OpsDeps) {
  const result = await deps.cluster.verify(file, flags, deps.out);
  deps.out.result(result, deps.opts.output, (list) =>
    list
      .map((v) => `${v.name || v.file}: ${v.ok ? 'verified' : 'FAILED'}${v.deep ? ' (deep)' : ''}`)
      .join('\n'),
  );
  return result;
}
