// What a run looks like to a person in a terminal: jobs and steps with their results and wall
// times, and job summaries turned from HTML into text.
import type { WorkflowRunResult } from './run-workflow.ts';

const MARK: Record<string, string> = { success: '✔', failure: '✘', cancelled: '⊘', skipped: '○' };

/** One line a job and a step: result, wall time, name. */
export function formatRun(run: WorkflowRunResult): string {
  const lines = [`${run.workflow} (${run.event}): ${run.conclusion} in ${(run.durationMs / 1000).toFixed(1)} s`];
  for (const job of run.jobs) {
    lines.push(`  ${MARK[job.result] ?? '?'} ${job.name.padEnd(40)} ${job.result.padEnd(9)} ${(job.durationMs / 1000).toFixed(1).padStart(6)} s`);
    for (const step of job.steps) {
      const note = step.outcome !== step.conclusion ? ` (${step.outcome}, continue-on-error)` : '';
      lines.push(`      ${MARK[step.conclusion] ?? '?'} ${step.name.slice(0, 36).padEnd(36)} ${step.conclusion.padEnd(9)} ${(step.durationMs / 1000).toFixed(1).padStart(6)} s${note}`);
    }
  }
  return lines.join('\n');
}

/** A job summary (HTML/Markdown) as plain text for a terminal. */
export function summaryAsText(summary: string): string {
  return summary
    .replace(/<\/(th|td)>\s*/g, ' │ ')
    .replace(/<\/tr>/g, '\n')
    .replace(/<li>/g, '- ')
    .replace(/<\/(li|p|ul|ol|pre|details|summary)>/g, '\n')
    .replace(/<h\d>(.*?)<\/h\d>/g, '\n$1\n')
    .replace(/<br\s*\/?>/g, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
