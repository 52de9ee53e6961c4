/**
 * Test-only: runs an action's dist bundle in a child process exactly as GitHub's runner
 * does (DESIGN.md, "The runner contract"). Not bundled into any action.
 */
export { RunnerJob, runMainAndPost, type ActionRun, type GitHubContext, type JobOptions, type StepOptions, type ScriptOptions, type Phase } from './run-action.ts';
export { parseKeyValueFile, parsePathFile } from './file-commands.ts';
export { renderLog, parseCommandLine, type Annotation, type WorkflowCommand, type RenderedLog } from './workflow-commands.ts';
export { readActionMetadata, type ActionMetadata, type ActionInput } from './action-metadata.ts';
export { findSecretLeaks, type Leak } from './leaks.ts';
export { recordRun, secretInputs, sweepSecrets, takeRecordedRuns, type RecordedRun, type SweepResult } from './secret-sweep.ts';
