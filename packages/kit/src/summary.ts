import * as core from '@actions/core';
import { formatDuration } from './duration.ts';

export type Row = [label: string, value: string];

/** Escapes text for the HTML that job summaries are made of. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** A two-column table of facts (label, value), values shown as code. */
export function factsTable(rows: Row[]): Parameters<typeof core.summary.addTable>[0] {
  return [
    [
      { data: 'What', header: true },
      { data: 'Value', header: true },
    ],
    ...rows.map(([label, value]) => [escapeHtml(label), value === '' ? '' : `<code>${escapeHtml(value)}</code>`]),
  ];
}

export interface PhaseTiming {
  phase: string;
  ms: number;
}

/** Phase timings as a table: phase, duration, share of the total. */
export function timingsTable(phases: PhaseTiming[]): Parameters<typeof core.summary.addTable>[0] {
  const total = phases.reduce((sum, p) => sum + p.ms, 0) || 1;
  return [
    [
      { data: 'Phase', header: true },
      { data: 'Took', header: true },
      { data: 'Share', header: true },
    ],
    ...phases.map((p) => [escapeHtml(p.phase), formatDuration(p.ms), `${Math.round((100 * p.ms) / total)}%`]),
  ];
}

/**
 * Writes the machine-readable report as the `report` output (JSON) and returns it, so
 * the summary and the output come from one object.
 */
export function setReportOutput<T extends object>(report: T): T {
  core.setOutput('report', JSON.stringify(report));
  return report;
}

/** Times phases of a run for the report and the summary. */
export class PhaseClock {
  readonly phases: PhaseTiming[] = [];
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  async time<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const started = this.#now();
    try {
      return await fn();
    } finally {
      this.phases.push({ phase, ms: Math.round(this.#now() - started) });
    }
  }

  get totalMs(): number {
    return this.phases.reduce((sum, p) => sum + p.ms, 0);
  }
}
