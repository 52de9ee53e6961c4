// The measured Swarm figures in action-deploy-ssh/README.md ("target: swarm"), generated from the
// committed bench/results/swarm.json (npm run bench:swarm), so the README cannot drift from them.
//   node bench/swarm/readme-figures.ts          rewrite the block between the markers
//   node bench/swarm/readme-figures.ts --check  fail when the README's block differs from the JSON
// action-deploy-ssh/test/readme-figures.test.ts runs the check with the unit tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { blockCommand, REPO_ROOT, type FiguresBlock } from '../../test/support/readme-block.ts';
import type { Row } from '../deploy/readme-figures.ts';

export const SWARM_RESULTS = path.join(REPO_ROOT, 'bench/results/swarm.json');

/** The rows the ratios compare, by name (bench-swarm.ts writes them so). */
export const SWARM_ROW = {
  single: '1 replica behind the proxy: v1 → v2',
  update: '3 replicas behind the proxy: v1 → v2',
  rollback: '3 replicas: rollback: true (→ v1)',
  swarmRollback: "3 replicas: a release that never gets healthy (Swarm's own rollback)",
  nodeLoss: "3 replicas: v1 → v2, a worker's engine stopped mid-update",
} as const;

export interface SwarmBenchResults {
  at: string;
  rate: number;
  clients: number;
  readyRate: number;
  nodes: number;
  machine?: { cpus: number; loadAverage: number[] };
  rows: Row[];
  /** After the node-loss row: where the service's tasks ran (node → count), and that node's state. */
  nodeLoss?: { tasksPerNode: number[]; stoppedNodeState: string };
  ratios: {
    /** The 3-replica rolling update's step against the one-replica update's. */
    updateStepVsSingle?: number;
    /** The same, until every request is answered by the new version. */
    updateToVersionVsSingle?: number;
  };
}

export function swarmRatios(rows: Row[]): SwarmBenchResults['ratios'] {
  const find = (what: string): Row | undefined => rows.find((r) => r.what === what);
  const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b !== undefined && b > 0 ? Math.round((a / b) * 100) / 100 : undefined);
  return {
    updateStepVsSingle: ratio(find(SWARM_ROW.update)?.wallMs, find(SWARM_ROW.single)?.wallMs),
    updateToVersionVsSingle: ratio(find(SWARM_ROW.update)?.timeToVersionMs, find(SWARM_ROW.single)?.timeToVersionMs),
  };
}

const sec = (ms: number | undefined): string => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);
const times = (r: number | undefined): string => (r === undefined ? '–' : `×${r.toFixed(2)}`);

/** The Markdown between the `swarm-figures` markers. */
export function renderSwarmFigures(r: SwarmBenchResults): string {
  const machine = r.machine ? `, ${r.machine.cpus} cores, load average ${r.machine.loadAverage.map((n) => n.toFixed(1)).join(' ')}` : '';
  const lines = [
    `Measured by \`npm run bench:swarm\` on ${r.at.slice(0, 10)} (a swarm of ${r.nodes} lab targets, the real OCR app with its own HEALTHCHECK (every 10 s), a steady ${r.rate} req/s from ${r.clients} clients through the VPN to the manager, and ${r.readyRate} req/s on \`/readyz\`${machine}). "To the version" runs from the step's start until every request is answered by the version the step moves to, a failed request counting as not there yet. Generated from [\`bench/results/swarm.json\`](../bench/results/swarm.json) by \`node bench/swarm/readme-figures.ts\`; a unit test fails when they differ.`,
    '',
    '| step | failed / requests | p99 | step wall time | to the version |',
    '| --- | --- | --- | --- | --- |',
    ...r.rows.map((x) => `| ${x.what} | ${x.failed === 0 ? `**0 / ${x.total}**` : `${x.failed} / ${x.total}`} | ${Math.round(x.p99Ms)} ms | ${sec(x.wallMs)} | ${sec(x.timeToVersionMs)} |`),
    '',
    `${r.rows.every((x) => x.failed === 0) ? '**No request failed** in any step' : `**${r.rows.reduce((n, x) => n + x.failed, 0)} requests failed**`}. The rolling update of 3 replicas takes ${times(r.ratios.updateStepVsSingle)} the one-replica update's step (${times(r.ratios.updateToVersionVsSingle)} to the new version): three tasks one after another, each healthy before the next, with a 2 s pause between them.`,
  ];
  if (r.nodeLoss) {
    lines.push('', `After the node-loss step, once the managers saw the stopped node \`${r.nodeLoss.stoppedNodeState}\`, the service ran ${r.nodeLoss.tasksPerNode.reduce((a, b) => a + b, 0)} tasks on ${r.nodeLoss.tasksPerNode.filter((n) => n > 0).length} nodes (${r.nodeLoss.tasksPerNode.join(' + ')}, the stopped node last).`);
  }
  return lines.join('\n');
}

export const SWARM_FIGURES: FiguresBlock = {
  readme: path.join(REPO_ROOT, 'action-deploy-ssh/README.md'),
  marker: 'swarm-figures',
  render: () => renderSwarmFigures(JSON.parse(readFileSync(SWARM_RESULTS, 'utf8')) as SwarmBenchResults),
  command: 'node bench/swarm/readme-figures.ts',
};

if (import.meta.filename === process.argv[1]) blockCommand(SWARM_FIGURES);
