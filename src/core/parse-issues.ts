import type { z } from 'zod';

/** `path: message; ...` for a failed schema parse: how every artifact's parse error is reported. */
export function describeIssues(error: z.ZodError, whole = '(document)'): string {
  return error.issues.map((i) => `${i.path.join('.') || whole}: ${i.message}`).join('; ');
}
