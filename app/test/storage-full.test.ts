// A full disk under DATA_DIR is told apart from a bug: the app answers 507 insufficient_storage.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { isStorageFull } from '../src/http-errors.ts';

describe('isStorageFull', () => {
  it('knows the SQLITE_FULL that node:sqlite throws when the database cannot grow', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gangway-full-'));
    const db = new DatabaseSync(path.join(dir, 'full.db'));
    let caught: unknown;
    try {
      db.exec('PRAGMA max_page_count = 8; CREATE TABLE t (v BLOB)');
      const insert = db.prepare('INSERT INTO t (v) VALUES (randomblob(4096))');
      for (let i = 0; i < 100; i++) insert.run();
    } catch (error) {
      caught = error;
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(String((caught as Error | undefined)?.message)).toMatch(/database or disk is full/);
    expect(isStorageFull(caught)).toBe(true);
  });

  it('knows ENOSPC from a file write, and nothing else', () => {
    expect(isStorageFull(Object.assign(new Error("ENOSPC: no space left on device, open '/data/images/x.png'"), { code: 'ENOSPC' }))).toBe(true);
    expect(isStorageFull(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }))).toBe(false);
    expect(isStorageFull(new Error('boom'))).toBe(false);
    expect(isStorageFull(undefined)).toBe(false);
  });
});
