export { ConfigurationError, isConfigurationError, errorMessage, toError } from './errors.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { parseByteSize, formatBytes } from './bytes.ts';
export {
  parseBoolean,
  parseList,
  parseKeyValues,
  parsePort,
  parseInteger,
  parseHostPort,
  parseChoice,
  isValidHost,
  type HostPort,
} from './parse.ts';
export { Inputs, inputEnvName, runnerInputs, mapInputs, type InputSource } from './inputs.ts';
export { registerSecret, secretParts, createRedactor, MIN_MASKED_LINE, MIN_REDACTED_LENGTH, type Redact } from './secrets.ts';
export { retry, backoffDelay, sleep, type RetryOptions } from './retry.ts';
export { runAction, reportFailure, type ActionHandlers } from './action.ts';
export { factsTable, timingsTable, setReportOutput, escapeHtml, PhaseClock, type Row, type PhaseTiming } from './summary.ts';
export * from './docker/index.ts';
export { resolveWorkspacePath, runnerPathRoots, type PathRoots } from './paths.ts';
// Also in '@gangway/kit/github'; here too, so that an action without Octokit (build) reads the run without bundling it.
export { readRunContext, readEventPayload, type RunContext } from './github/run-context.ts';
