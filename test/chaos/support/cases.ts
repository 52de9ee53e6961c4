// For the chaos suite: one case = a fault injected while steady traffic runs against the
// public port, then the verdict the issue asks for: requests sent and failed, history rows
// before and after (and every acknowledged upload still there), the version that answers.
// Each case adds a row to the table printed when its file ends and appended to
// GANGWAY_CHAOS_LOG (a JSON line per case) when that is set.
import { appendFileSync } from 'node:fs';
import type { LoadSample, LoadSummary } from '../../../lab/src/testing/load.ts';
import { answeringVersion, historyRows, missingResults, startTraffic, type Endpoint, type TrafficOptions, type WriteStats } from './traffic.ts';

export interface CaseRow {
  case: string;
  requests: number;
  failed: number;
  rowsBefore: number;
  rowsAfter: number;
  /** Acknowledged uploads that no longer resolve (must be 0). */
  lost: number;
  version: string;
  result: string;
  notes?: string;
}

const rows: CaseRow[] = [];

export interface CaseOutcome<T> {
  value: T;
  row: CaseRow;
  load: LoadSummary;
  /** Every reader request, timed from `startedAt` (performance.now() when the traffic began). */
  samples: LoadSample[];
  startedAt: number;
  writes: WriteStats;
}

/**
 * Runs `fault` under traffic. Reads the history before, stops the traffic after `fault`,
 * waits `settleMs`, reads the history and the version again. The caller asserts on the
 * outcome; the row is recorded whatever happens.
 */
export async function underTraffic<T>(
  name: string,
  endpoint: Endpoint,
  fault: () => Promise<T>,
  options: TrafficOptions & { expectVersion: string; result?: (value: T) => string; reach?: Endpoint } = { expectVersion: '' },
): Promise<CaseOutcome<T>> {
  // `reach`: where the test itself reads history and version when the public path is the fault.
  const probe = options.reach ?? endpoint;
  const rowsBefore = await historyRows(probe);
  const traffic = await startTraffic(endpoint, options);
  let value: T | undefined;
  let error: Error | undefined;
  try {
    value = await fault();
  } catch (e) {
    error = e instanceof Error ? e : new Error(String(e));
  }
  const { load, writes } = await traffic.stop();
  const rowsAfter = await historyRows(probe).catch(() => -1);
  const lost = (await missingResults(probe, writes.acknowledged).catch(() => writes.acknowledged)).length;
  const version = await answeringVersion(probe);
  const row: CaseRow = {
    case: name,
    requests: load.total + writes.sent,
    failed: load.failed + writes.failed,
    rowsBefore,
    rowsAfter,
    lost,
    version,
    result: error ? `error: ${error.message.split('\n')[0] ?? ''}` : options.result && value !== undefined ? options.result(value) : 'ok',
  };
  record(row);
  if (error) throw error;
  if (load.failed > 0 || writes.failed > 0) console.log(`${name}: failures ${JSON.stringify({ reads: load.errors, first: load.firstFailures, writes: writes.errors })}`);
  return { value: value as T, row, load, writes, samples: traffic.load.samples, startedAt: traffic.load.startedAt };
}

export function record(row: CaseRow): void {
  rows.push(row);
  const log = process.env['GANGWAY_CHAOS_LOG'];
  if (log) appendFileSync(log, `${JSON.stringify(row)}\n`);
}

/** The table of this file's cases (markdown), for the file's afterAll. */
export function caseTable(): string {
  const head = '| case | requests | failed | rows before → after | lost | answers | result |\n|---|---:|---:|---|---:|---|---|';
  return [head, ...rows.map((r) => `| ${r.case} | ${r.requests} | ${r.failed} | ${r.rowsBefore} → ${r.rowsAfter} | ${r.lost} | ${r.version} | ${r.result} |`)].join('\n');
}
