// Two processes writing one SQLite file at once, as two app containers do during a blue-green overlap:
// both migrate a fresh database, then insert concurrently. No row may be lost, the file must stay intact.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DATABASE_FILE } from '../src/db.ts';
import { LATEST_SCHEMA_VERSION } from '../src/migrations.ts';

const run = promisify(execFile);
const WRITER = fileURLToPath(new URL('./sqlite-writer.ts', import.meta.url));
const ROWS_EACH = 1500;

describe('SQLite shared by two writer processes', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gangway-sqlite-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps every row of both writers and passes the integrity check', async () => {
    const startAt = Date.now() + 1500;
    const [a, b] = await Promise.all(
      ['blue', 'green'].map(async (instance) => {
        const args = [WRITER, dataDir, String(ROWS_EACH), instance, String(startAt)];
        const { stdout } = await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 });
        return JSON.parse(stdout) as { instance: string; applied: number[]; tokens: string[] };
      }),
    );
    // Exactly one of them applied the migrations; the other found the schema current.
    expect([...a!.applied, ...b!.applied].sort()).toEqual(Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1));

    const db = new DatabaseSync(path.join(dataDir, DATABASE_FILE));
    try {
      expect(db.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
      expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
      expect(db.prepare('PRAGMA user_version').get()).toEqual({ user_version: LATEST_SCHEMA_VERSION });
      const counts = db.prepare('SELECT instance, COUNT(*) AS n FROM results GROUP BY instance ORDER BY instance').all();
      expect(counts).toEqual([
        { instance: 'blue', n: ROWS_EACH },
        { instance: 'green', n: ROWS_EACH },
      ]);
      // The writers really overlapped: their rows interleave.
      const span = db.prepare('SELECT instance, MIN(id) AS first, MAX(id) AS last FROM results GROUP BY instance ORDER BY instance').all() as {
        first: number;
        last: number;
      }[];
      expect(span[0]!.first).toBeLessThan(span[1]!.last);
      expect(span[1]!.first).toBeLessThan(span[0]!.last);
      const stored = new Set((db.prepare('SELECT token FROM results').all() as { token: string }[]).map((row) => row.token));
      for (const token of [...a!.tokens, ...b!.tokens]) expect(stored.has(token)).toBe(true);
    } finally {
      db.close();
    }
  }, 60_000);
});
