// Modules an action's dependencies require as they load but whose code the action never runs
// ("gangway.bundleStubs": dockerode's gRPC session and BuildKit decoding in deploy-ssh) are left
// out of its dist bundle; a stub stands in for each, which loads and throws as soon as it is used.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listActions } from '../../scripts/actions.ts';
import { stubPath, stubSource } from '../../scripts/ncc-build.ts';

const actions = listActions();

describe('modules left out of a bundle', () => {
  it('a stub loads as a dependency requires it, and throws naming its module when any of it is used', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gangway-stub-'));
    try {
      const file = path.join(dir, 'stub.cjs');
      writeFileSync(file, stubSource('@grpc/grpc-js'));
      const stub = createRequire(import.meta.url)(file) as Record<string | symbol, unknown>;
      expect(stub['__esModule']).toBeUndefined();
      expect(stub[Symbol.toPrimitive]).toBeUndefined();
      expect(() => stub['Server']).toThrow(/@grpc\/grpc-js is left out of this action's bundle \(gangway.bundleStubs\), yet its Server was used/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('deploy-ssh leaves out gRPC and protobuf; action-build keeps them (its BuildKit session runs on gRPC)', () => {
    const stubsOf = (name: string): string[] => actions.find((a) => a.name === name)?.stubs ?? [];
    expect(stubsOf('action-deploy-ssh')).toEqual(['@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs']);
    expect(stubsOf('action-build')).toEqual([]);
  });

  it.each(actions.filter((a) => a.stubs.length > 0).map((a) => [a.name, a] as const))('%s/dist has a stub for each, and none of their code', (_, action) => {
    const bundle = readFileSync(path.join(action.dist, 'index.js'), 'utf8');
    const licenses = readFileSync(path.join(action.dist, 'licenses.txt'), 'utf8').split('\n');
    for (const name of action.stubs) {
      expect(existsSync(path.join(action.dist, stubPath(name)))).toBe(true);
      expect(bundle).toContain(JSON.stringify(stubPath(name)));
      // ncc lists every bundled package by name, one line, in licenses.txt.
      expect(licenses).not.toContain(name);
    }
  });
});
