/**
 * Test-only: runs a real workflow file on this machine through the runner harness (the
 * actions' dist bundles, started as GitHub's runner starts them). See README.md for what it
 * supports; anything else stops the run, naming the key.
 */
export { runWorkflow, readSettings, gangwayActionDir, gangwayActionName, type WorkflowRunOptions, type WorkflowRunResult, type JobResult, type StepResult, type SyntheticEvent, type RunSettings, type Result } from './run-workflow.ts';
export { pushEvent, workflowRunEvent, workflowDispatchEvent, type EventRepository } from './events.ts';
export { loadWorkflow, parseWorkflow, UnsupportedWorkflowError, type Workflow } from './workflow-file.ts';
export { evaluateCondition, evaluateTemplate, evaluateValue, ExpressionError } from './expressions.ts';
export { summaryAsText, formatRun } from './report.ts';
