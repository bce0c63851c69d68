/** A yes/no environment switch (PGOPS_DEBUG): 1, true, yes (any case) mean on; anything else off. */
export function envSwitch(value: string | undefined): boolean {
  return /^(1|true|yes)$/i.test((value ?? '').trim());
}
