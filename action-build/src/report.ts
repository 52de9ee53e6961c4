import * as core from '@actions/core';
import { escapeHtml, factsTable, formatDuration, setReportOutput, timingsTable, type PhaseTiming, type Row } from '@gangway/kit';
import type { BuildStep } from './build.ts';
import type { ComputedTag } from './tags.ts';
import type { TestGateOutcome } from './test-gate.ts';

/** The `report` output: everything a later step or a person might ask about this build. */
export interface BuildReport {
  image: string;
  imageRef: string;
  digest: string;
  tags: ComputedTag[];
  pushed: string[];
  imageId: string;
  sizeBytes: number;
  durationMs: number;
  builder: 'buildkit' | 'classic';
  engine: { where: string; version: string; apiVersion: string };
  cacheFrom: string[];
  /** Cache sources that could not be imported, with the reason. */
  cacheMisses: string[];
  cachedSteps: number;
  totalSteps: number;
  steps: BuildStep[];
  testGate: TestGateOutcome;
  context: { files: number; bytes: number };
  phases: PhaseTiming[];
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Sets every output from the report, and the report itself as JSON. */
export function setOutputs(report: BuildReport): void {
  core.setOutput('image-ref', report.imageRef);
  core.setOutput('digest', report.digest);
  core.setOutput('tags', report.tags.map((t) => `${report.image}:${t.tag}`).join('\n'));
  core.setOutput('image-id', report.imageId);
  core.setOutput('size-bytes', String(report.sizeBytes));
  core.setOutput('duration-ms', String(report.durationMs));
  setReportOutput(report);
}

export function summaryRows(report: BuildReport): Row[] {
  const gate: string[] = [];
  if (report.testGate.target) gate.push(`stage ${report.testGate.target.name} passed (${formatDuration(report.testGate.target.durationMs)})`);
  if (report.testGate.command) gate.push(`command passed (${formatDuration(report.testGate.command.durationMs)})`);
  return [
    ['Image reference (deploy this)', report.imageRef],
    ['Digest', report.digest || 'not pushed'],
    ['Tags', report.tags.map((t) => t.tag).join(', ')],
    ['Size', formatBytes(report.sizeBytes)],
    ['Duration', formatDuration(report.durationMs)],
    ['Cached steps', `${report.cachedSteps} of ${report.totalSteps}`],
    ['Builder', `${report.builder} on Docker ${report.engine.version}`],
    ['Test gate', gate.length ? gate.join('; ') : 'none configured'],
  ];
}

export async function writeSummary(report: BuildReport): Promise<void> {
  const pushed = report.pushed.length > 0;
  core.summary.addHeading(pushed ? `Built and pushed ${escapeHtml(report.image)}` : `Built ${escapeHtml(report.image)} (not pushed)`, 2);
  core.summary.addTable(factsTable(summaryRows(report)));
  core.summary.addHeading('Steps', 3);
  core.summary.addList(report.steps.map((s) => `${s.cached ? 'cached' : s.durationMs !== undefined ? formatDuration(s.durationMs) : 'ran'} — <code>${escapeHtml(s.name)}</code>`));
  core.summary.addHeading('Timings', 3);
  core.summary.addTable(timingsTable(report.phases));
  await core.summary.write();
}

/** A short summary for a failed run, so the job page says why nothing was pushed. */
export async function writeFailureSummary(image: string, message: string, phases: PhaseTiming[]): Promise<void> {
  core.summary.addHeading(`Build of ${escapeHtml(image)} failed`, 2);
  core.summary.addCodeBlock(message.split('\n').slice(0, 80).join('\n'));
  if (phases.length) core.summary.addTable(timingsTable(phases));
  await core.summary.write();
}
