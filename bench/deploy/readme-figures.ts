// The measured deploy figures in action-deploy-ssh/README.md, generated from the committed
// bench/results/deploy.json (npm run bench:deploy), so the README cannot drift from them.
//   node bench/deploy/readme-figures.ts          rewrite the block between the markers
//   node bench/deploy/readme-figures.ts --check  fail when the README's block differs from the JSON
// action-deploy-ssh/test/readme-figures.test.ts runs the check with the unit tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { blockCommand, REPO_ROOT, type FiguresBlock } from '../../test/support/readme-block.ts';

export const DEPLOY_RESULTS = path.join(REPO_ROOT, 'bench/results/deploy.json');

export interface Phase {
  phase: string;
  ms: number;
}

export interface Row {
  what: string;
  by: 'gangway' | 'hand-written';
  failed: number;
  total: number;
  p99Ms: number;
  maxMs: number;
  /** The step: the action's main step, or the hand-written ssh command. */
  wallMs: number;
  /** From the step's start until every request is answered by `to` (undefined: the load ended first). */
  timeToVersionMs: number | undefined;
  /** The same on the readiness path: until every /readyz answer is 200 from `to` (a 503 counts as not there yet). */
  timeToReadyMs: number | undefined;
  to: string;
  errors: Record<string, number>;
  versions: Record<string, number>;
  /** The action's phases on the host (its report). */
  phases?: Phase[];
}

export interface CurvePoint {
  hosts: number;
  wallMs: number;
  /** Each host's own total (its report), in host order. */
  hostTotalsMs: number[];
}

export interface FirstByte {
  rounds: number;
  /** Median ms from the step's start to the listener's first byte. */
  actionMs: number;
  bareNodeMs: number;
  action: number[];
  bareNode: number[];
}

/** One step of an interleaved pair: what its row measured. */
export interface PairSide {
  timeToVersionMs: number | undefined;
  failed: number;
  total: number;
  wallMs: number;
  phases?: Phase[];
}

/** One round of part (f): blue-green and the hand-written sequence, each moving its own app to the other version. */
export interface Pair {
  round: number;
  /** Which of the two ran first in this round (it alternates). */
  first: Row['by'];
  gangway: PairSide;
  handWritten: PairSide;
  /** Gangway's time to the new version over the hand-written's, in this pair. */
  ratio: number | undefined;
}

export interface PairFigures {
  count: number;
  medianRatio: number | undefined;
  minRatio: number | undefined;
  maxRatio: number | undefined;
  gangwayMedianMs: number | undefined;
  handWrittenMedianMs: number | undefined;
  /**
   * The median ratio of the pairs in which each went first. They differ when the step before leaves
   * the machine busy, or the app's old container slow to exit (the hand-written \`docker stop\` waits
   * for it): the verdict takes the worse of the two.
   */
  medianRatioByFirst: { gangway: number | undefined; handWritten: number | undefined };
  /** Pairs in which Gangway's step never got to the new version (while the load ran): any one misses the target. */
  gangwayNeverThere: number;
  /** Failed requests over all of Gangway's steps in the pairs (must be 0) and the hand-written's. */
  gangwayFailed: number;
  handWrittenFailed: number;
}

const side = (r: Row): PairSide => ({ timeToVersionMs: r.timeToVersionMs, failed: r.failed, total: r.total, wallMs: r.wallMs, ...(r.phases ? { phases: r.phases } : {}) });

/** a / b, unrounded; undefined when either is missing (or b is 0). */
function rawRatio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

function ratioOf(a: number | undefined, b: number | undefined): number | undefined {
  const r = rawRatio(a, b);
  return r === undefined ? undefined : Math.round(r * 100) / 100;
}

export function pairOf(round: number, first: Row['by'], gangway: Row, handWritten: Row): Pair {
  return { round, first, gangway: side(gangway), handWritten: side(handWritten), ratio: ratioOf(gangway.timeToVersionMs, handWritten.timeToVersionMs) };
}

/** The middle value (the mean of the two middle ones for an even count); undefined for none. */
export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function pairFigures(pairs: Pair[]): PairFigures | undefined {
  if (pairs.length === 0) return undefined;
  // From the measured times, unrounded: a median is rounded once, to 3 places, for the JSON and the verdict.
  const ratiosOf = (of: Pair[]): number[] => of.flatMap((p) => {
    const r = rawRatio(p.gangway.timeToVersionMs, p.handWritten.timeToVersionMs);
    return r === undefined ? [] : [r];
  });
  const round3 = (n: number | undefined): number | undefined => (n === undefined ? undefined : Math.round(n * 1000) / 1000);
  const ms = (n: number | undefined): number | undefined => (n === undefined ? undefined : Math.round(n));
  const all = ratiosOf(pairs);
  return {
    count: pairs.length,
    medianRatio: round3(median(all)),
    medianRatioByFirst: { gangway: round3(median(ratiosOf(pairs.filter((p) => p.first === 'gangway')))), handWritten: round3(median(ratiosOf(pairs.filter((p) => p.first === 'hand-written')))) },
    minRatio: all.length > 0 ? round3(Math.min(...all)) : undefined,
    maxRatio: all.length > 0 ? round3(Math.max(...all)) : undefined,
    gangwayMedianMs: ms(median(pairs.flatMap((p) => (p.gangway.timeToVersionMs === undefined ? [] : [p.gangway.timeToVersionMs])))),
    handWrittenMedianMs: ms(median(pairs.flatMap((p) => (p.handWritten.timeToVersionMs === undefined ? [] : [p.handWritten.timeToVersionMs])))),
    gangwayNeverThere: pairs.filter((p) => p.gangway.timeToVersionMs === undefined).length,
    gangwayFailed: pairs.reduce((n, p) => n + p.gangway.failed, 0),
    handWrittenFailed: pairs.reduce((n, p) => n + p.handWritten.failed, 0),
  };
}

/**
 * The pairs' verdict: missed when a Gangway step never got to the new version or either half's
 * median is over ×1.00; not measured when a half has no pair.
 */
export function pairsVerdict(p: PairFigures): boolean | undefined {
  if (p.gangwayNeverThere > 0) return false;
  const { gangway, handWritten } = p.medianRatioByFirst;
  if (gangway === undefined || handWritten === undefined) return undefined;
  return Math.max(gangway, handWritten) <= 1;
}

export interface DeployBenchResults {
  at: string;
  rate: number;
  clients: number;
  /** The second load's rate, on /readyz. */
  readyRate?: number;
  /** The standby window of the warm rollback's deploy, or null when the action had no standby. */
  standby: string | null;
  machine?: { cpus: number; loadAverage: number[] };
  rows: Row[];
  curve: CurvePoint[];
  firstByte?: FirstByte;
  /** Part (f): the interleaved pairs (absent in results from before it). */
  pairs?: Pair[];
  ratios: {
    newVersionVsHandWritten?: number;
    /** Until the new version is ready (its /readyz 200), against the hand-written sequence's. */
    readyVsHandWritten?: number;
    stepVsHandWritten?: number;
    warmRollbackVsHandWritten?: number;
    coldRollbackVsHandWritten?: number;
    hosts: Array<{ hosts: number; ratioToOne?: number }>;
    firstByteVsBareNode?: number;
    /** Over the interleaved pairs: the median of each pair's ratio, to the new version. */
    pairs?: PairFigures;
  };
}

/** The rows the ratios compare, by name (bench-deploy.ts writes them so). */
export const ROW = {
  blueGreen: 'blue-green v1 → v2',
  handWritten: 'hand-written v1 → v2',
  handWrittenBack: 'hand-written re-run of v1',
  cold: 'rollback: true, cold (v1 stopped)',
  warm: 'rollback: true, warm (v1 on standby)',
} as const;

export function deployRatios(rows: Row[], curve: CurvePoint[], firstByte: FirstByte | undefined, pairs: Pair[] = []): DeployBenchResults['ratios'] {
  const find = (what: string): Row | undefined => rows.find((r) => r.what === what);
  const ratio = ratioOf;
  const paired = pairFigures(pairs);
  const hw = find(ROW.handWritten)?.timeToVersionMs;
  const hwBack = find(ROW.handWrittenBack)?.timeToVersionMs;
  return {
    newVersionVsHandWritten: ratio(find(ROW.blueGreen)?.timeToVersionMs, hw),
    readyVsHandWritten: ratio(find(ROW.blueGreen)?.timeToReadyMs, find(ROW.handWritten)?.timeToReadyMs),
    stepVsHandWritten: ratio(find(ROW.blueGreen)?.wallMs, hw),
    warmRollbackVsHandWritten: ratio(find(ROW.warm)?.timeToVersionMs, hwBack),
    coldRollbackVsHandWritten: ratio(find(ROW.cold)?.timeToVersionMs, hwBack),
    hosts: curve.map((p) => ({ hosts: p.hosts, ratioToOne: ratio(p.wallMs, curve[0]?.wallMs) })),
    firstByteVsBareNode: ratio(firstByte?.actionMs, firstByte?.bareNodeMs),
    ...(paired ? { pairs: paired } : {}),
  };
}

const sec = (ms: number | undefined): string => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);
const times = (r: number | undefined): string => (r === undefined ? '–' : `×${r.toFixed(2)}`);
const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'not measured' : ok ? 'met' : '**missed**');

/** The Markdown between the `deploy-figures` markers. */
export function renderDeployFigures(r: DeployBenchResults): string {
  const find = (what: string): Row | undefined => r.rows.find((x) => x.what === what);
  const bg = find(ROW.blueGreen);
  const warm = find(ROW.warm);
  const cold = find(ROW.cold);
  const load = `${r.machine ? `, ${r.machine.cpus} cores, load average ${r.machine.loadAverage.map((n) => n.toFixed(1)).join(' ')}` : ''}, ${r.curve.length} lab targets up`;
  // The issue's bound is for 1 to 3 hosts; past that, on 2 cores, the curve is what the machine holds.
  const upToThree = r.ratios.hosts.filter((h) => h.hosts <= 3);
  // With pairs, their verdict is the one: each half's median, the worse of the two.
  const p = r.ratios.pairs;
  const pairsLine = p
    ? `| blue-green, to the new version: ${p.count} interleaved pairs (each on an app of its own, the order alternating) | ×${p.medianRatioByFirst.handWritten?.toFixed(2) ?? '–'} where the hand-written went first, ×${p.medianRatioByFirst.gangway?.toFixed(2) ?? '–'} where Gangway did (each half's median; pairs ×${p.minRatio?.toFixed(2) ?? '–'} to ×${p.maxRatio?.toFixed(2) ?? '–'}; failed requests: Gangway ${p.gangwayFailed}, hand-written ${p.handWrittenFailed}${p.gangwayNeverThere > 0 ? `; Gangway never got to the new version in ${p.gangwayNeverThere}` : ''}) | ≤ ×1.00 in both halves: ${verdict(pairsVerdict(p))} |`
    : undefined;
  const lines = [
    `Measured by \`npm run bench:deploy\` on ${r.at.slice(0, 10)} (the real OCR app on a lab target${load}; a steady ${r.rate} req/s from ${r.clients} clients, half kept alive, through the VPN). "To the new version" runs from the step's start until every request (\`GET /version\`) is answered by the version the step moves to, a failed request counting as not there yet; "ready" is the same on \`/readyz\` (a second load, ${r.readyRate ?? '–'} req/s), which turns 200 only once the app has loaded its models: the hand-written sequence sends traffic to the new container as soon as it listens, Gangway once it is ready. Generated from [\`bench/results/deploy.json\`](../bench/results/deploy.json) by \`node bench/deploy/readme-figures.ts\`; a unit test fails when they differ.`,
    '',
    '| step | failed / requests | p99 | step wall time | to the new version | to the new version ready |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.rows.map((x) => `| ${x.by === 'hand-written' ? x.what : `Gangway ${x.what}`} | ${x.failed === 0 ? `**0 / ${x.total}**` : `${x.failed} / ${x.total}`} | ${Math.round(x.p99Ms)} ms | ${sec(x.wallMs)} | ${sec(x.timeToVersionMs)} | ${sec(x.timeToReadyMs)} |`),
    '',
    '| against the hand-written sequence (same run) | figure | target |',
    '| --- | --- | --- |',
    p
      ? `| blue-green, to the new version, the rows above (one pair) | ${times(r.ratios.newVersionVsHandWritten)} | ≤ ×1.00: judged on the pairs below |`
      : `| blue-green, to the new version | ${times(r.ratios.newVersionVsHandWritten)} | ≤ ×1.00: ${verdict(r.ratios.newVersionVsHandWritten === undefined ? undefined : r.ratios.newVersionVsHandWritten <= 1)} |`,
    ...(pairsLine ? [pairsLine] : []),
    `| blue-green, to the new version ready (\`/readyz\` 200 from it) | ${times(r.ratios.readyVsHandWritten)} | reported |`,
    `| blue-green, the whole step (settle included) against the hand-written's time to the new version | ${times(r.ratios.stepVsHandWritten)} | reported |`,
    `| warm rollback (\`standby: ${r.standby ?? '–'}\`), to the previous version | ${sec(warm?.timeToVersionMs)} (${times(r.ratios.warmRollbackVsHandWritten)} the re-run of the old tag) | ≤ 2 s: ${verdict(warm?.timeToVersionMs === undefined ? undefined : warm.timeToVersionMs <= 2000)} |`,
    `| cold rollback (old container stopped), to the previous version | ${sec(cold?.timeToVersionMs)} (${times(r.ratios.coldRollbackVsHandWritten)}) | ≤ 5 s: ${verdict(cold?.timeToVersionMs === undefined ? undefined : cold.timeToVersionMs <= 5000)} |`,
    `| hosts at once (\`canary: false\`, no load): ${r.curve.map((p) => p.hosts).join(' / ')} | ${r.curve.map((p) => sec(p.wallMs)).join(' / ')} (${r.ratios.hosts.map((h) => times(h.ratioToOne)).join(' / ')}) | 1 → 3 hosts ≤ ×1.3: ${verdict(upToThree.length < 2 ? undefined : upToThree.every((h) => (h.ratioToOne ?? Infinity) <= 1.3))}; beyond, the curve |`,
    `| action start to first SSH byte | ${r.firstByte ? `${r.firstByte.actionMs} ms, median of ${r.firstByte.rounds} (bare node ${r.firstByte.bareNodeMs} ms)` : '–'} | ≤ 200 ms: ${verdict(r.firstByte === undefined ? undefined : r.firstByte.actionMs <= 200)} |`,
  ];
  const phased = [bg, warm, cold].filter((x): x is Row => x?.phases !== undefined && x.phases.length > 0);
  if (phased.length > 0) {
    const names = [...new Set(phased.flatMap((x) => (x.phases ?? []).map((p) => p.phase)))];
    const of = (x: Row, name: string): string => {
      const ms = (x.phases ?? []).filter((p) => p.phase === name).reduce((n, p) => n + p.ms, 0);
      return (x.phases ?? []).some((p) => p.phase === name) ? sec(ms) : '';
    };
    lines.push('', `| phase on the host | ${phased.map((x) => x.what).join(' | ')} |`, `| --- | ${phased.map(() => '---').join(' | ')} |`, ...names.map((n) => `| ${n} | ${phased.map((x) => of(x, n)).join(' | ')} |`));
  }
  return lines.join('\n');
}

export const DEPLOY_FIGURES: FiguresBlock = {
  readme: path.join(REPO_ROOT, 'action-deploy-ssh/README.md'),
  marker: 'deploy-figures',
  render: () => renderDeployFigures(JSON.parse(readFileSync(DEPLOY_RESULTS, 'utf8')) as DeployBenchResults),
  command: 'node bench/deploy/readme-figures.ts',
};

if (import.meta.filename === process.argv[1]) blockCommand(DEPLOY_FIGURES);
