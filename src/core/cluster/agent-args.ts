/**
 * The postgres-agent command lines postgres-ops runs, on Kubernetes (in a Job or a pod) and in the
 * local mode (a subprocess): built in one place so that both modes hand the agent the same flags.
 */
import type { BackupRequest, RestoreRequest } from './cluster-api.js';

/** `restore FILE --replace --yes ...`: the operator has already confirmed, so the agent must not ask. */
export function agentRestoreArgs(req: RestoreRequest): string[] {
  return [
    'restore',
    req.file,
    '--replace',
    '--yes',
    ...(req.targetDatabase ? ['--target-database', req.targetDatabase] : []),
    ...(req.safetyBackup ? [] : ['--no-safety-backup']),
    ...(req.force ? ['--force'] : []),
  ];
}

/** `backup [--name NAME] [--jobs N]`. */
export function agentBackupArgs(name: string | undefined, opts: BackupRequest = {}): string[] {
  return ['backup', ...(name ? ['--name', name] : []), ...(opts.jobs ? ['--jobs', String(opts.jobs)] : [])];
}

/** `verify [FILE] [--deep] [--all]`. */
export function agentVerifyArgs(file: string | undefined, opts: { deep?: boolean; all?: boolean }): string[] {
  return [
    'verify',
    ...(file ? [file] : []),
    ...(opts.deep ? ['--deep'] : []),
    ...(opts.all ? ['--all'] : []),
  ];
}

/** `promote --candidate NAME [--force] [--plan]`: run where the candidate runs. */
export function agentPromoteArgs(candidate: string, opts: { force?: boolean; plan?: boolean }): string[] {
  return [
    'promote',
    '--candidate',
    candidate,
    ...(opts.force ? ['--force'] : []),
    ...(opts.plan ? ['--plan'] : []),
  ];
}
