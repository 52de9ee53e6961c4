// action-deploy-ssh/README.md's deploy and Swarm figures are the committed benchmark results (bench/results/deploy.json, swarm.json), not hand-copied tables that drift.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { wantedBlock } from '../../test/support/readme-block.ts';
import { DEPLOY_FIGURES, DEPLOY_RESULTS, deployRatios, pairOf, renderDeployFigures, ROW, type DeployBenchResults, type Row } from '../../bench/deploy/readme-figures.ts';
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

describe('the interleaved pairs', () => {
  const row = (by: Row['by'], timeToVersionMs: number | undefined, failed = 0): Row => ({ what: by, by, failed, total: 100, p99Ms: 1, maxMs: 1, wallMs: 1000, timeToVersionMs, timeToReadyMs: timeToVersionMs, to: 'v2', errors: {}, versions: {} });

  it('give the median of the pair ratios (not the ratio of the medians), their range, and every failed request', () => {
    const pairs = [
      pairOf(1, 'gangway', row('gangway', 1800), row('hand-written', 1500, 20)),
      pairOf(2, 'hand-written', row('gangway', 1500), row('hand-written', 1600, 18)),
      pairOf(3, 'gangway', row('gangway', 2000), row('hand-written', 1600, 25)),
      pairOf(4, 'hand-written', row('gangway', 1400), row('hand-written', 1500, 19)),
    ];
    expect(pairs.map((p) => p.ratio)).toEqual([1.2, 0.94, 1.25, 0.93]);
    const { pairs: figures } = deployRatios([], [], undefined, pairs);
    // Ratios sorted 0.93 0.94 1.2 1.25: the median is the mean of the middle two.
    // Gangway first: 1.2 and 1.25; hand-written first: 0.94 and 0.93.
    expect(figures).toEqual({ count: 4, medianRatio: 1.07, medianRatioByFirst: { gangway: 1.23, handWritten: 0.94 }, minRatio: 0.93, maxRatio: 1.25, gangwayMedianMs: 1650, handWrittenMedianMs: 1550, gangwayFailed: 0, handWrittenFailed: 82 });
  });

  it('a pair whose step never reached the new version counts in neither the ratios nor the medians, and the README says what was measured', () => {
    const pairs = [pairOf(1, 'gangway', row('gangway', undefined), row('hand-written', 1500)), pairOf(2, 'hand-written', row('gangway', 1400), row('hand-written', 1500))];
    const r = results();
    const ratios = deployRatios(r.rows, r.curve, r.firstByte, pairs);
    expect(ratios.pairs).toMatchObject({ count: 2, medianRatio: 0.93, gangwayMedianMs: 1400, handWrittenMedianMs: 1500 });
    const figures = renderDeployFigures({ ...r, pairs, ratios });
    expect(figures).toContain(
      '| blue-green, to the new version: 2 interleaved pairs (each on an app of its own, the order alternating) | median ×0.93: ×0.93 where the hand-written went first, ×– where Gangway did (pairs ×0.93 to ×0.93; medians 1.40 s against 1.50 s; failed requests: Gangway 0, hand-written 0) | ≤ ×1.00 in both halves: met |',
    );
    // One half over ×1.00 misses, whatever the median of all.
    const mixed = [pairOf(1, 'gangway', row('gangway', 1000), row('hand-written', 2000)), pairOf(2, 'hand-written', row('gangway', 1650), row('hand-written', 1500)), pairOf(3, 'gangway', row('gangway', 1000), row('hand-written', 2000))];
    const mixedRatios = deployRatios(r.rows, r.curve, r.firstByte, mixed);
    expect(mixedRatios.pairs?.medianRatio).toBe(0.5);
    expect(renderDeployFigures({ ...r, pairs: mixed, ratios: mixedRatios })).toMatch(/×1\.10 where the hand-written went first, ×0\.50 where Gangway did .* \| ≤ ×1\.00 in both halves: \*\*missed\*\* \|/);
    // Without pairs (results from before part f), no such line.
    expect(renderDeployFigures({ ...r, ratios: deployRatios(r.rows, r.curve, r.firstByte) })).not.toContain('interleaved pairs');
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
