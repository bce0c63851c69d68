import type { AgentConfig } from '../core/config/schema.js';
import type { OutputHost } from '../core/output.js';
import type { Logger } from '../runtime/log.js';

/** What every agent command receives: its parsed configuration, a logger and an output host. */
export interface AgentContext {
  /** The settings, parsed once, shaped like the chart's values (`config.backup.retentionDays`). */
  config: AgentConfig;
  /** The raw process environment, for passthrough names (cloud SDK credentials). */
  rawEnv: NodeJS.ProcessEnv;
  log: Logger;
  out: OutputHost;
}
