import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readActionMetadata } from '@gangway/harness';
import { listActions } from '../../scripts/actions.ts';
import { buildAll } from '../../scripts/build-dist.ts';

const actions = listActions();

describe('the actions in this repository', () => {
  it('are the five of the design', () => {
    expect(actions.map((a) => a.name)).toEqual(['action-build', 'action-deploy-ssh', 'action-notify', 'action-smoke-test', 'action-vpn-connect']);
  });

  it.each(actions.map((a) => [a.name, a] as const))('%s runs its committed dist bundle on node24', (_, action) => {
    const meta = readActionMetadata(action.dir);
    expect(meta.runs.using).toBe('node24');
    expect(meta.runs.main).toBe('dist/index.js');
    if (meta.runs.post) expect(meta.runs.post).toBe('dist/index.js');
    // ncc writes the ESM marker beside the bundle; without it node would load it as CommonJS.
    expect(JSON.parse(readFileSync(path.join(action.dist, 'package.json'), 'utf8'))).toEqual({ type: 'module' });
  });

  it('have dist/ bundles that match their sources (run `npm run build` when this fails)', async () => {
    const { stale } = await buildAll({ check: true });
    expect(stale).toEqual({});
  }, 180_000);
});
