// app/README.md's measured figures are the committed benchmark results, not a hand-copied table that drifts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { wantedBlock } from '../../test/support/readme-block.ts';
import { APP_FIGURES, APP_RESULTS, BUILD_RESULTS, renderBenchFigures, withBenchFigures, type AppBenchResults, type BuildBenchResults } from './readme-figures.ts';

describe('app/README.md figures', () => {
  it('match bench/results/app.json and build.json (run `node app/test/readme-figures.ts` after a benchmark)', () => {
    const { current, wanted } = wantedBlock(APP_FIGURES);
    expect(current).toBe(wanted);
  });

  it('change when a figure in the JSON changes', () => {
    const app = JSON.parse(readFileSync(APP_RESULTS, 'utf8')) as AppBenchResults;
    const build = JSON.parse(readFileSync(BUILD_RESULTS, 'utf8')) as BuildBenchResults;
    const figures = renderBenchFigures(app, build);
    expect(figures).toContain(`${(app.coldStartToReadyMs.p50 / 1000).toFixed(2)} s median`);
    expect(figures).toContain(`${app.throughput[0]!.requestsPerSecond.toFixed(1)} req/s at concurrency 1`);
    expect(figures).toContain(`${(build.sizeBytes / 1e6).toFixed(0)} MB`);
    const slower = { ...app, coldStartToReadyMs: { ...app.coldStartToReadyMs, p50: app.coldStartToReadyMs.p50 + 1000 } };
    expect(renderBenchFigures(slower, build)).not.toBe(figures);
    const readme = withBenchFigures('a\n<!-- bench-figures:start -->\nold\n<!-- bench-figures:end -->\nb', figures);
    expect(readme).toBe(`a\n<!-- bench-figures:start -->\n${figures}\n<!-- bench-figures:end -->\nb`);
    expect(() => withBenchFigures('no markers', figures)).toThrow(/bench-figures:start/);
    // A figure with a `$` stays as it is (no replacement patterns).
    expect(withBenchFigures('<!-- bench-figures:start -->\n<!-- bench-figures:end -->', '$& $1')).toContain('$& $1');
  });
});
