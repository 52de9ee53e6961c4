// The archive put-archive gets: what tar reads back from it is what was written.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tarArchive } from '../src/host/tar.ts';

describe('tarArchive', () => {
  it('holds directories and files that GNU tar extracts with their content and modes, owned by root', async () => {
    const config = 'worker_processes auto; # ünïcode\n'.repeat(40);
    const archive = await tarArchive([{ name: 'gangway/' }, { name: 'gangway/nginx.conf', content: config }, { name: 'run.sh', content: Buffer.from('#!/bin/sh\n'), mode: 0o755 }]);
    expect(archive.length % 512).toBe(0);
    const dir = mkdtempSync(path.join(tmpdir(), 'gangway-tar-'));
    try {
      writeFileSync(path.join(dir, 'a.tar'), archive);
      const listing = execFileSync('tar', ['-tvf', path.join(dir, 'a.tar'), '--numeric-owner'], { encoding: 'utf8' });
      expect(listing).toMatch(/^drwxr-xr-x 0\/0 .* gangway\/$/m);
      expect(listing).toMatch(/^-rw-r--r-- 0\/0 .* gangway\/nginx\.conf$/m);
      execFileSync('tar', ['-xf', path.join(dir, 'a.tar'), '-C', dir]);
      expect(readFileSync(path.join(dir, 'gangway', 'nginx.conf'), 'utf8')).toBe(config);
      expect(statSync(path.join(dir, 'run.sh')).mode & 0o777).toBe(0o755);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
