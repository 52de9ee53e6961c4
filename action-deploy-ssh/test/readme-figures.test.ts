// action-deploy-ssh/README.md's deploy and Swarm figures are the committed benchmark results (bench/results/deploy.json, swarm.json), not hand-copied tables that drift.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { wantedBlock } from '../../test/support/readme-block.ts';
import { DEPLOY_FIGURES, DEPLOY_RESULTS, deployRatios, renderDeployFigures, ROW, type DeployBenchResults } from '../../bench/deploy/readme-figures.ts';
import { renderSwarmFigures, SWARM_FIGURES, SWARM_RESULTS, SWARM_ROW, swarmRatios, type SwarmBenchResults } from '../../bench/swarm/readme-figures.ts';

const results = (): DeployBenchResults => JSON.parse(readFileSync(DEPLOY_RESULTS, 'utf8')) as DeployBenchResults;

describe('action-deploy-ssh/README.md deploy figures', () => {
  it('match bench/results/deploy.json (run `node bench/deploy/readme-figures.ts` after a benchmark)', () => {
    const { current, wanted } = wantedBlock(DEPLOY_FIGURES);
    expect(current).toBe(wanted);
  });

  it('are the JSON\'s: a changed figure changes the block, and a missed target says so', () => {
    const r = results();
    const figures = renderDeployFigures(r);
    const bg = r.rows.find((x) => x.what === ROW.blueGreen);
    expect(bg).toBeDefined();
    expect(figures).toContain(`| Gangway ${ROW.blueGreen} | **0 / ${bg?.total}** |`);
    // The hand-written sequence gets twice as fast: the same Gangway figures miss the target.
    const rows = r.rows.map((x) => (x.what === ROW.handWritten ? { ...x, timeToVersionMs: (bg?.timeToVersionMs ?? 0) / 2 } : x));
    const slower = renderDeployFigures({ ...r, rows, ratios: deployRatios(rows, r.curve, r.firstByte) });
    expect(slower).toMatch(/\| blue-green, to the new version \| ×2\.00 \| ≤ ×1\.00: \*\*missed\*\* \|/);
    expect(slower).not.toBe(figures);
  });

  it('compute the ratios from the rows of one run', () => {
    const row = (what: string, timeToVersionMs: number, wallMs = 1000) => ({ what, by: 'gangway' as const, failed: 0, total: 1, p99Ms: 1, maxMs: 1, wallMs, timeToVersionMs, timeToReadyMs: timeToVersionMs, to: 'v2', errors: {}, versions: {} });
    const ratios = deployRatios(
      [row(ROW.blueGreen, 900, 9000), row(ROW.handWritten, 1000), row(ROW.warm, 500), row(ROW.cold, 1500), row(ROW.handWrittenBack, 1000)],
      [{ hosts: 1, wallMs: 10_000, hostTotalsMs: [] }, { hosts: 3, wallMs: 12_000, hostTotalsMs: [] }],
      { rounds: 1, actionMs: 120, bareNodeMs: 30, action: [120], bareNode: [30] },
    );
    expect(ratios).toEqual({ newVersionVsHandWritten: 0.9, readyVsHandWritten: 0.9, stepVsHandWritten: 9, warmRollbackVsHandWritten: 0.5, coldRollbackVsHandWritten: 1.5, hosts: [{ hosts: 1, ratioToOne: 1 }, { hosts: 3, ratioToOne: 1.2 }], firstByteVsBareNode: 4 });
  });
});

describe('action-deploy-ssh/README.md Swarm figures', () => {
  const swarmResults = (): SwarmBenchResults => JSON.parse(readFileSync(SWARM_RESULTS, 'utf8')) as SwarmBenchResults;

  it('match bench/results/swarm.json (run `node bench/swarm/readme-figures.ts` after a benchmark)', () => {
    const { current, wanted } = wantedBlock(SWARM_FIGURES);
    expect(current).toBe(wanted);
  });

  it('are the JSON\'s: a failed request behind the proxy is counted and shown, and the ratios come from the rows', () => {
    const r = swarmResults();
    const update = r.rows.find((x) => x.what === SWARM_ROW.update);
    expect(update).toBeDefined();
    const rows = r.rows.map((x) => (x.what === SWARM_ROW.update ? { ...x, failed: 3 } : x));
    const worse = renderSwarmFigures({ ...r, rows });
    expect(worse).toContain(`| ${SWARM_ROW.update} | 3 / ${update?.total} |`);
    expect(worse).toMatch(/\*\*3 requests failed\*\*/);
    expect(worse).not.toBe(renderSwarmFigures(r));
    const row = (what: string, wallMs: number, timeToVersionMs: number) => ({ what, by: 'gangway' as const, failed: 0, total: 1, p99Ms: 1, maxMs: 1, wallMs, timeToVersionMs, timeToReadyMs: timeToVersionMs, to: 'v2', errors: {}, versions: {} });
    expect(swarmRatios([row(SWARM_ROW.single, 10_000, 4000), row(SWARM_ROW.update, 30_000, 20_000)])).toEqual({ updateStepVsSingle: 3, updateToVersionVsSingle: 5 });
  });
});
