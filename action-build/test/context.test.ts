import { mkdtempSync, mkdirSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import tar from 'tar-stream';
import { createBuildContext, listContext, OUTSIDE_DOCKERFILE } from '../src/context.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'build-context-'));
  const ctx = path.join(dir, 'ctx');
  mkdirSync(path.join(ctx, 'node_modules', 'x'), { recursive: true });
  mkdirSync(path.join(ctx, 'src'), { recursive: true });
  mkdirSync(path.join(ctx, 'logs'), { recursive: true });
  writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\n');
  writeFileSync(path.join(ctx, '.dockerignore'), 'node_modules\n*.log\nlogs\n!logs/keep.log\nDockerfile\n');
  writeFileSync(path.join(ctx, 'node_modules', 'x', 'index.js'), '');
  writeFileSync(path.join(ctx, 'src', 'main.ts'), 'export {}\n');
  writeFileSync(path.join(ctx, 'debug.log'), 'x');
  writeFileSync(path.join(ctx, 'logs', 'keep.log'), 'kept');
  writeFileSync(path.join(ctx, 'logs', 'drop.txt'), 'dropped');
  symlinkSync('src/main.ts', path.join(ctx, 'link.ts'));
  writeFileSync(path.join(dir, 'Other.Dockerfile'), 'FROM scratch\nCOPY src /src\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function entries(stream: NodeJS.ReadableStream): Promise<Record<string, string>> {
  const extract = tar.extract();
  const out: Record<string, string> = {};
  const done = (async () => {
    for await (const entry of extract) {
      let body = '';
      for await (const chunk of entry) body += (chunk as Buffer).toString();
      out[entry.header.name] = entry.header.type === 'symlink' ? `-> ${entry.header.linkname}` : body;
    }
  })();
  stream.pipe(extract);
  await done;
  return out;
}

describe('build context', () => {
  it('honours .dockerignore, with exceptions, and always sends the Dockerfile', () => {
    const names = listContext(path.join(dir, 'ctx'), ['Dockerfile', '.dockerignore']).map((e) => e.name);
    expect(names).toEqual(['.dockerignore', 'Dockerfile', 'link.ts', 'logs/keep.log', 'src', 'src/main.ts']);
  });

  it('streams a tar the engine can read', async () => {
    const context = createBuildContext(path.join(dir, 'ctx'), path.join(dir, 'ctx', 'Dockerfile'));
    expect(context.dockerfile).toBe('Dockerfile');
    const files = await entries(context.stream);
    expect(Object.keys(files).sort()).toEqual(['.dockerignore', 'Dockerfile', 'link.ts', 'logs/keep.log', 'src/', 'src/main.ts']);
    expect(files['logs/keep.log']).toBe('kept');
    expect(files['link.ts']).toBe('-> src/main.ts');
    expect(await context.done).toEqual({ files: 4, bytes: expect.any(Number) as number });
  });

  it('adds a Dockerfile from outside the context under its own name', async () => {
    const context = createBuildContext(path.join(dir, 'ctx'), path.join(dir, 'Other.Dockerfile'));
    expect(context.dockerfile).toBe(OUTSIDE_DOCKERFILE);
    const files = await entries(context.stream);
    expect(files[OUTSIDE_DOCKERFILE]).toContain('COPY src /src');
    expect(files['Dockerfile']).toBeUndefined();
  });
});

describe('build context from the repository root with the app .dockerignore', () => {
  it('sends manifests and app sources, and never walks node_modules', () => {
    const names = listContext(path.resolve(import.meta.dirname, '..', '..'), ['app/Dockerfile', '.dockerignore']).map((e) => e.name);
    expect(names).toContain('package-lock.json');
    expect(names).toContain('app/Dockerfile');
    expect(names).toContain('action-build/package.json');
    expect(names).toContain('app/src/server.ts');
    expect(names.some((n) => n.includes('node_modules'))).toBe(false);
    expect(names.some((n) => n.startsWith('action-build/src/'))).toBe(false);
  });
});
