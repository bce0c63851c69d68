/**
 * Promotion through Patroni: a switchover when the primary is healthy, a failover when it is gone,
 * checked first (src/core/ha/promotion.ts) and driven through the REST API, whose HTTP status is
 * the answer (patronictl 3.0.2 exits 0 when Patroni refuses). Runs where the candidate's agent
 * runs (its pod, or its environment in local mode), so that with failover: manual it can lift the
 * candidate's fence for the duration.
 */
import type { AllowFailover } from '../../core/ha/allow-failover.js';
import type { PromoteResult } from '../../core/ha/promote-result.js';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AgentConfig } from '../../core/config/schema.js';
import { OperationFailed, SafetyRefusal, UsageError } from '../../core/errors.js';
import { planPromotion, type CandidateFacts, type PromotionPlan } from '../../core/ha/promotion.js';
import { MEMBER_FACTS_SQL, parseMemberFacts } from '../../core/pg/member-facts.js';
import { lsnDiff } from '../../core/pg/wal.js';
import { leaderLogin, withClusterOperation } from '../cluster-operation.js';
import type { Logger } from '../log.js';
import { requireSecret } from '../secrets.js';
import { withClient, type Login } from '../instance/sql.js';
import { memberPaths, withHaFile } from '../instance/patroni-inputs.js';
import { PatroniApi, type PatroniCluster, type PatroniMember } from './patroni-api.js';

export interface PromoteRequest {
  candidate: string;
  force: boolean;
  /** Only check and say what would happen. */
  planOnly: boolean;
  timeoutSeconds: number;
}

export type { PromoteResult };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Makes a member the primary as one cluster operation: no backup, restore or migration runs across
 * it, the lock held on the current primary when it answers (a plan takes none). Refuses (exit 3) a
 * candidate that is not streaming or lacks more WAL than the bound, saying how many bytes would be
 * lost, unless `force`. Running it again once done is a no-op.
 */
export async function promote(config: AgentConfig, req: PromoteRequest, log: Logger): Promise<PromoteResult> {
  const primary = req.planOnly ? undefined : await leaderLogin(config);
  const run = () => promoteMember(config, req, log);
  return primary
    ? withClusterOperation(primary, `promote ${req.candidate}`, run, {
        log,
        whenUnreachable: 'proceed',
        connectTimeoutMs: 5000,
      })
    : run();
}

export async function promoteMember(
  settings: AgentConfig,
  req: PromoteRequest,
  log: Logger,
): Promise<PromoteResult> {
  const config = withHaFile(settings); // the failover mode in force, as the member's agent sees it
  const api = new PatroniApi(`http://127.0.0.1:${config.ha.restApiPort}`, {
    username: config.ha.restApiUser,
    password: requireSecret(config, 'PGOPS_RESTAPI_PASSWORD', "to use Patroni's REST API"),
  });
  const password = requireSecret(config, 'PGOPS_SUPERUSER_PASSWORD', 'to check the members');
  const login = (m: PatroniMember): Login => ({
    host: m.host ?? '127.0.0.1',
    port: m.port ?? config.instance.port,
    user: config.roles.superuser,
    password,
    tls: Boolean(config.postgresql.tlsDir),
  });
  const cluster = await api.cluster().catch((err: Error) => {
    throw new OperationFailed(
      'E_PATRONI_UNREACHABLE',
      `cannot read the cluster from Patroni on this member: ${err.message}`,
      {},
      { hint: 'Run this where the candidate member runs, while its postgres-agent instance is up.' },
    );
  });
  const plan = await checkPromotion(config, cluster, req, login);
  const leader = cluster.members.find((m) => m.role === 'leader');
  const base = {
    candidate: req.candidate,
    previousPrimary: leader?.name ?? null,
    missingBytes: 'missingBytes' in plan ? plan.missingBytes : null,
    warnings: 'warnings' in plan ? plan.warnings : [],
  };
  if (plan.action === 'refuse')
    throw new SafetyRefusal(
      'E_PROMOTE_REFUSED',
      `${plan.reason}; nothing was changed`,
      { candidate: req.candidate, missingBytes: plan.missingBytes },
      { hint: plan.hint },
    );
  if (plan.action === 'none') {
    const pos = await position(login(memberOf(cluster, req.candidate)));
    return { ...base, promoted: false, action: 'none', ...pos, message: `${plan.reason}; nothing to do` };
  }
  if (req.planOnly)
    return {
      ...base,
      promoted: false,
      action: plan.action,
      timeline: null,
      lsn: null,
      message: describePlan(plan),
    };

  for (const w of base.warnings) log.warn(w);
  const paths = memberPaths(config);
  const manual = config.ha.failover === 'manual';
  if (manual) await liftFence(config, api, req.candidate, paths);
  else await waitPromotable(api, req.candidate, cluster);
  try {
    const body =
      plan.action === 'switchover' ? { leader: plan.from, candidate: plan.to } : { candidate: plan.to };
    log.info(`${plan.action} to ${plan.to} requested`, { from: plan.from });
    const answer = await api.call('POST', `/${plan.action}`, body, (req.timeoutSeconds + 30) * 1000);
    if (answer.status !== 200)
      throw (answer.status === 412 ? refusedByPatroni : failedByPatroni)(
        plan,
        answer.status,
        String(answer.body),
      );
    const pos = await waitWritable(login(memberOf(cluster, req.candidate)), req.timeoutSeconds);
    return {
      ...base,
      promoted: true,
      action: plan.action,
      ...pos,
      message: `${req.candidate} is the primary now (timeline ${pos.timeline}, ${plan.action}${plan.from ? ` from ${plan.from}` : ''})`,
    };
  } finally {
    if (manual) rmSync(paths.allowFailover, { force: true });
  }
}

function memberOf(cluster: PatroniCluster, name: string): PatroniMember {
  const m = cluster.members.find((x) => x.name === name);
  if (!m)
    throw new UsageError(
      'E_NO_SUCH_MEMBER',
      `there is no member named "${name}"; nothing was changed`,
      { candidate: name },
      { hint: `Members: ${cluster.members.map((x) => x.name).join(', ') || '(none)'}` },
    );
  return m;
}

/** Gathers the facts (asking PostgreSQL, not only Patroni) and applies the rules. */
async function checkPromotion(
  config: AgentConfig,
  cluster: PatroniCluster,
  req: PromoteRequest,
  login: (m: PatroniMember) => Login,
): Promise<PromotionPlan> {
  const cand = memberOf(cluster, req.candidate);
  const leader = cluster.members.find((m) => m.role === 'leader');
  const dynamic = await new PatroniApi(`http://127.0.0.1:${config.ha.restApiPort}`)
    .config()
    .catch(() => ({}));
  const synchronous = (dynamic as { synchronous_mode?: boolean }).synchronous_mode === true;

  let leaderLsn: string | null = null;
  if (leader) {
    // A WAL record written now: a live receiver has it within moments, a stuck one never does.
    leaderLsn = await withClient(login(leader), async (c) => {
      const r = await c.query<{ r: boolean; lsn: string | null }>(
        "SELECT pg_is_in_recovery() AS r, CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_logical_emit_message(false, 'pgops', 'promotion check')::text END AS lsn",
      );
      return r.rows[0]!.r ? null : r.rows[0]!.lsn;
    }).catch(() => null);
  }
  const facts: CandidateFacts = {
    name: cand.name,
    answers: false,
    inRecovery: true,
    walReceiver: null,
    missingBytes: null,
    isSyncStandby: cand.role === 'sync_standby',
  };
  const deadline = Date.now() + 5000;
  for (;;) {
    const st = await withClient(login(cand), async (c) =>
      parseMemberFacts((await c.query(MEMBER_FACTS_SQL)).rows[0]),
    ).catch(() => undefined);
    if (!st) break;
    facts.answers = true;
    facts.inRecovery = st.inRecovery;
    facts.walReceiver = st.receiverStatus;
    if (leaderLsn) facts.missingBytes = lsnDiff(leaderLsn, st.receivedLsn);
    else if (typeof cand.lag === 'number') facts.missingBytes = cand.lag;
    if (!st.inRecovery || !leaderLsn || facts.missingBytes === 0 || Date.now() > deadline) break;
    await sleep(200);
  }
  const ahead = cluster.members
    .filter((m) => m.name !== cand.name && m.role !== 'leader' && typeof m.lag === 'number')
    .filter((m) => typeof cand.lag === 'number' && (m.lag as number) < cand.lag)
    .map((m) => ({ name: m.name, bytes: (cand.lag as number) - (m.lag as number) }));
  return planPromotion({
    candidate: facts,
    leader: leader?.name ?? null,
    leaderHealthy: leaderLsn !== null,
    synchronous,
    maxLagBytes: config.ha.maxLagOnFailover,
    force: req.force,
    aheadOfCandidate: leaderLsn ? [] : ahead,
  });
}

export function describePlan(plan: PromotionPlan): string {
  if (plan.action === 'switchover')
    return `switch over from ${plan.from} to ${plan.to}: writes pause for a few seconds, ${plan.from} becomes a replica of ${plan.to}`;
  if (plan.action === 'failover')
    return `fail over to ${plan.to}: the primary ${plan.from ?? '(none)'} is not running; ${plan.to} lacks ${plan.missingBytes ?? '?'} bytes of its WAL`;
  return 'reason' in plan ? plan.reason : '';
}

/** failover: manual — the candidate's agent lets Patroni promote it (tag nofailover off) for the duration. */
async function liftFence(
  config: AgentConfig,
  api: PatroniApi,
  candidate: string,
  paths: ReturnType<typeof memberPaths>,
) {
  if (candidate !== config.agent.podName)
    throw new UsageError(
      'E_PROMOTE_ELSEWHERE',
      `with failover: manual, promote runs where the candidate runs (this is ${config.agent.podName}, not ${candidate}); nothing was changed`,
      {},
      { hint: `Run it in the candidate's container: postgres-ops promote ${candidate} does this for you.` },
    );
  const allow: AllowFailover = { until: Date.now() + 300_000 };
  writeFileSync(paths.allowFailover, JSON.stringify(allow) + '\n', { mode: 0o600 });
  let agentPid: number | undefined;
  try {
    agentPid = Number(readFileSync(paths.agentPid, 'utf8').trim());
    process.kill(agentPid, 'SIGHUP');
  } catch {
    throw new OperationFailed(
      'E_AGENT_NOT_RUNNING',
      `the agent of ${candidate} is not running (no ${paths.agentPid}); nothing was changed`,
      {},
      { hint: 'Start the member first (postgres-ops local up, or wait for the pod to be running).' },
    );
  }
  // This member's own view: the tag is off as soon as its Patroni has reloaded.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const self = await api.self().catch(() => undefined);
    if (self && !self.tags?.nofailover) return;
    await sleep(500);
  }
  rmSync(paths.allowFailover, { force: true });
  throw new OperationFailed(
    'E_FENCE_NOT_LIFTED',
    `Patroni on ${candidate} did not take the new configuration within 30 s; nothing was changed`,
    {},
    { hint: 'Look at the member log; then run promote again.' },
  );
}

const fenced = (c: PatroniCluster, name: string) =>
  c.members.find((m) => m.name === name)?.tags?.nofailover === true;

/** Whether the leader record's member list shows `candidate` without its nofailover tag within 30 s. */
async function fenceLifted(api: PatroniApi, candidate: string): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const now = await api.cluster().catch(() => undefined);
    if (now && now.members.some((m) => m.name === candidate) && !fenced(now, candidate)) return true;
    await sleep(500);
  }
  return false;
}

/**
 * failover: automatic — a member that started on an empty volume carries nofailover until its agent
 * sees it holds a copy of the cluster (streaming, as checked above): Patroni would refuse it as "no
 * good candidates" until that tick. Wait for it instead of failing a promotion that is about to be
 * possible.
 */
async function waitPromotable(api: PatroniApi, candidate: string, cluster: PatroniCluster) {
  if (!fenced(cluster, candidate) || (await fenceLifted(api, candidate))) return;
  throw new OperationFailed(
    'E_FENCE_NOT_LIFTED',
    `${candidate} is still marked not to be promoted (nofailover) 30 s after it was seen streaming; nothing was changed`,
    {},
    {
      hint: "Look at the member's log (its agent lifts the mark once it holds a copy); then run promote again.",
    },
  );
}

function refusedByPatroni(plan: PromotionPlan, status: number, body: string) {
  return new SafetyRefusal(
    'E_PATRONI_REFUSED',
    `Patroni refused the ${plan.action} (${status}: ${body.trim()}); nothing was changed`,
    { status },
    {
      hint: 'postgres-ops status shows which member can be promoted (in synchronous mode, the synchronous standby).',
    },
  );
}

function failedByPatroni(plan: PromotionPlan, status: number, body: string) {
  return new OperationFailed(
    'E_PROMOTE_FAILED',
    `the ${plan.action} did not complete (Patroni answered ${status}: ${body.trim()})`,
    { status },
    {
      hint: 'Look at postgres-ops status: Patroni keeps or restores a primary; run promote again once every member runs.',
    },
  );
}

/** The new primary's timeline and write position (no position while it still replays). */
async function position(l: Login): Promise<{ timeline: number | null; lsn: string | null }> {
  return withClient(l, async (c) => {
    const f = parseMemberFacts((await c.query(MEMBER_FACTS_SQL)).rows[0]);
    return { timeline: f.timeline, lsn: f.inRecovery ? null : f.lsn };
  }).catch(() => ({ timeline: null, lsn: null }));
}

async function waitWritable(l: Login, timeoutSeconds: number) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (Date.now() < deadline) {
    const ok = await withClient(
      l,
      async (c) => !(await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r,
    ).catch(() => false);
    if (ok) return position(l);
    await sleep(250);
  }
  throw new OperationFailed(
    'E_PROMOTE_TIMEOUT',
    `the candidate did not accept writes within ${timeoutSeconds} s after Patroni's answer`,
    {},
    { hint: 'postgres-ops status shows who leads now.' },
  );
}
