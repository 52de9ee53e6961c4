/**
 * Test-only: runs an action's dist bundle in a child process exactly as GitHub's runner does
 * (the root README, "Tests of the actions run the bundle users run"), and sweeps every run
 * for leaked secrets. No action's src imports it, and no dist bundle contains it
 * (test/unit/structure.test.ts).
 */
export {
  RunnerJob,
  runMainAndPost,
  onActionRun,
  type ActionRun,
  type ActionRunEvent,
  type ActionRunListener,
  type GitHubContext,
  type JobOptions,
  type StepOptions,
  type ScriptOptions,
  type Phase,
} from './run-action.ts';
export { parseKeyValueFile, parsePathFile } from './file-commands.ts';
export { renderLog, parseCommandLine, type Annotation, type WorkflowCommand, type RenderedLog } from './workflow-commands.ts';
export { readActionMetadata, type ActionMetadata, type ActionInput } from './action-metadata.ts';
export { findSecretLeaks, type Leak } from './leaks.ts';
export { SecretSweep, secretsOfStep, sweepSecrets, type RecordedRun, type SecretSweepResult, type SweepResult } from './secret-sweep.ts';
export { checkSecretInputs, loadSecretInputs, secretsOfInputs, SECRET_INPUTS_FILE, type SecretInput, type SecretInputs } from './secret-inputs.ts';
