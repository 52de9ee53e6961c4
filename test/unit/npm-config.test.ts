// `npm ci` works verbatim on a fresh machine (issue #15): the project's own npm configuration
// makes onnxruntime-node's install script skip its download of CUDA parts (a host outside the
// package registry), and CI relies on nothing else.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/actions.ts';

describe('npm configuration', () => {
  it('onnxruntime-node-install is skip in the project config, which the install script reads', () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_config_|ONNXRUNTIME_)/i.test(k)));
    expect(execFileSync('npm', ['config', 'get', 'onnxruntime-node-install', '--location=project'], { cwd: repoRoot, env, encoding: 'utf8' }).trim()).toBe('skip');
    // The key the script reads, as npm hands project config to lifecycle scripts.
    const script = readFileSync(path.join(repoRoot, 'node_modules', 'onnxruntime-node', 'script', 'install-utils.js'), 'utf8');
    expect(script).toContain('npm_config_onnxruntime_node_install');
  });

  it('.ci/run sets no ONNXRUNTIME_* variable: CI proves the README command as written', () => {
    const lines = readFileSync(path.join(repoRoot, '.ci', 'run'), 'utf8').split('\n').filter((l) => !l.trim().startsWith('#'));
    expect(lines.filter((l) => /ONNXRUNTIME/i.test(l))).toEqual([]);
  });
});
