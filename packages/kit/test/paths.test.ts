import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveWorkspacePath } from '../src/paths.ts';

const root = mkdtempSync(path.join(tmpdir(), 'gangway-paths-'));
const workspace = path.join(root, 'ws');
const runnerTemp = path.join(root, 'tmp');
mkdirSync(path.join(workspace, 'sub'), { recursive: true });
mkdirSync(runnerTemp);
writeFileSync(path.join(workspace, 'sub', 'file.txt'), 'x');
writeFileSync(path.join(root, 'secret.txt'), 'x');
symlinkSync(path.join(root, 'secret.txt'), path.join(workspace, 'escape.txt'));
symlinkSync(root, path.join(workspace, 'outdir'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('resolveWorkspacePath', () => {
  const roots = { workspace, runnerTemp };
  it('resolves relative paths against the workspace', () => {
    expect(resolveWorkspacePath('sub/file.txt', 'upload', roots)).toBe(path.join(workspace, 'sub', 'file.txt'));
    expect(resolveWorkspacePath('.', 'context', roots)).toBe(workspace);
  });
  it('accepts absolute paths inside the workspace or RUNNER_TEMP, existing or not', () => {
    expect(resolveWorkspacePath(path.join(workspace, 'new', 'x'), 'file', roots)).toBe(path.join(workspace, 'new', 'x'));
    expect(resolveWorkspacePath(path.join(runnerTemp, 'a.ovpn'), 'config-file', roots)).toBe(path.join(runnerTemp, 'a.ovpn'));
  });
  it('refuses paths outside, naming the input', () => {
    expect(() => resolveWorkspacePath('/proc/self/environ', 'upload', roots)).toThrow(/Input "upload" is "\/proc\/self\/environ".*outside the workspace/);
    expect(() => resolveWorkspacePath('../secret.txt', 'ca', roots)).toThrow(/Input "ca"/);
    expect(() => resolveWorkspacePath(path.join(runnerTemp, 'a'), 'file', { workspace })).toThrow(/Input "file"/);
  });
  it('refuses symlinks that lead out, to files and through folders', () => {
    expect(() => resolveWorkspacePath('escape.txt', 'upload', roots)).toThrow(/resolves to .*secret\.txt/);
    expect(() => resolveWorkspacePath('outdir/secret.txt', 'context', roots)).toThrow(/Input "context"/);
    expect(() => resolveWorkspacePath('outdir/missing/x', 'file', roots)).toThrow(/Input "file"/);
  });
});
