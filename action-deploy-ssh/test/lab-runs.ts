// For the lab tests: runs action-deploy-ssh's dist as the runner does (main, then post, in one
// job) and keeps every run for the leak checks and every job for the cleanup.
import path from 'node:path';
import { RunnerJob, type ActionRun } from '@gangway/harness';
import type { DeployReport } from '../src/report.ts';

const actionDir = path.resolve(import.meta.dirname, '..');

export interface DeployRun {
  main: ActionRun;
  post: ActionRun;
  /** The `report` output, parsed. */
  report: DeployReport | undefined;
  /** How long main took, ms. */
  ms: number;
}

export class DeployRuns {
  /** Every main and post run, for findSecretLeaks. */
  readonly runs: ActionRun[] = [];
  readonly #jobs: RunnerJob[] = [];

  async deploy(inputs: Record<string, string>, options: { actor?: string; onLine?: (line: string) => void; timeoutMs?: number; cancel?: { afterMs?: number; whenLog?: RegExp } } = {}): Promise<DeployRun> {
    const job = new RunnerJob(options.actor ? { github: { actor: options.actor } } : {});
    this.#jobs.push(job);
    const started = performance.now();
    const main = await job.main(actionDir, { inputs, timeoutMs: options.timeoutMs ?? 300_000, ...(options.onLine ? { onLine: options.onLine } : {}), ...(options.cancel ? { cancel: options.cancel } : {}) });
    const ms = Math.round(performance.now() - started);
    const post = await job.post(actionDir, { inputs, timeoutMs: 60_000 });
    this.runs.push(main, post);
    return { main, post, report: main.outputs.report ? (JSON.parse(main.outputs.report) as DeployReport) : undefined, ms };
  }

  cleanup(): void {
    for (const j of this.#jobs) j.cleanup();
  }
}
