// action-deploy-ssh/README.md's deploy and Swarm figures are the committed benchmark results (bench/results/deploy.json, swarm.json), not hand-copied tables that drift.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { wantedBlock } from '../../test/support/readme-block.ts';
import { DEPLOY_FIGURES, DEPLOY_RESULTS, deployRatios, pairOf, pairsVerdict, renderDeployFigures, ROW, type DeployBenchResults, type Row } from '../../bench/deploy/readme-figures.ts';
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

  it('give each half its median (by who went first), from the times unrounded, with the range and every failed request', () => {
    const pairs = [
      pairOf(1, 'gangway', row('gangway', 1800), row('hand-written', 1500, 20)),
      pairOf(2, 'hand-written', row('gangway', 1500), row('hand-written', 1600, 18)),
      pairOf(3, 'gangway', row('gangway', 2000), row('hand-written', 1600, 25)),
      pairOf(4, 'hand-written', row('gangway', 1400), row('hand-written', 1500, 19)),
    ];
    expect(pairs.map((p) => p.ratio)).toEqual([1.2, 0.94, 1.25, 0.93]);
    const { pairs: figures } = deployRatios([], [], undefined, pairs);
    // Gangway first: 1.2 and 1.25; hand-written first: 0.9375 and 0.9333; all four sorted, the middle two are 0.9375 and 1.2.
    expect(figures).toEqual({
      count: 4,
      medianRatio: 1.069,
      medianRatioByFirst: { gangway: 1.225, handWritten: 0.935 },
      minRatio: 0.933,
      maxRatio: 1.25,
      gangwayMedianMs: 1650,
      handWrittenMedianMs: 1550,
      gangwayNeverThere: 0,
      gangwayFailed: 0,
      handWrittenFailed: 82,
    });
    expect(figures && pairsVerdict(figures)).toBe(false);
  });

  it('a ratio of 1.004 is over ×1.00: the verdict reads the median before it is shown rounded', () => {
    const pairs = [pairOf(1, 'gangway', row('gangway', 1004), row('hand-written', 1000)), pairOf(2, 'hand-written', row('gangway', 900), row('hand-written', 1000))];
    const figures = deployRatios([], [], undefined, pairs).pairs;
    expect(figures?.medianRatioByFirst).toEqual({ gangway: 1.004, handWritten: 0.9 });
    expect(figures && pairsVerdict(figures)).toBe(false);
  });

  it('a Gangway step that never got to the new version misses, and a half with no pair is not measured', () => {
    const r = results();
    const never = [pairOf(1, 'gangway', row('gangway', undefined), row('hand-written', 1500)), pairOf(2, 'hand-written', row('gangway', 1400), row('hand-written', 1500))];
    const ratios = deployRatios(r.rows, r.curve, r.firstByte, never);
    expect(ratios.pairs).toMatchObject({ count: 2, gangwayNeverThere: 1, medianRatioByFirst: { gangway: undefined, handWritten: 0.933 } });
    const figures = renderDeployFigures({ ...r, pairs: never, ratios });
    expect(figures).toContain(
      '| blue-green, to the new version: 2 interleaved pairs (each on an app of its own, the order alternating) | ×0.93 where the hand-written went first, ×– where Gangway did (each half\'s median; pairs ×0.93 to ×0.93; failed requests: Gangway 0, hand-written 0; Gangway never got to the new version in 1) | ≤ ×1.00 in both halves: **missed** |',
    );
    // With pairs, the single pair of the rows above gives no verdict of its own.
    expect(figures).toMatch(/\| blue-green, to the new version, the rows above \(one pair\) \| ×[\d.]+ \| ≤ ×1\.00: judged on the pairs below \|/);
    const oneHalf = [pairOf(1, 'hand-written', row('gangway', 1400), row('hand-written', 1500))];
    const half = deployRatios(r.rows, r.curve, r.firstByte, oneHalf);
    expect(half.pairs && pairsVerdict(half.pairs)).toBeUndefined();
    expect(renderDeployFigures({ ...r, pairs: oneHalf, ratios: half })).toMatch(/≤ ×1\.00 in both halves: not measured \|/);
    // Without pairs (results from before part f), no such line, and the single pair's verdict stands.
    const without = renderDeployFigures({ ...r, ratios: deployRatios(r.rows, r.curve, r.firstByte) });
    expect(without).not.toContain('interleaved pairs');
    expect(without).toMatch(/\| blue-green, to the new version \| ×[\d.]+ \| ≤ ×1\.00: (met|\*\*missed\*\*) \|/);
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
