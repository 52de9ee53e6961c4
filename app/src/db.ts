// Opens the SQLite history (node:sqlite) in DATA_DIR: WAL, a busy timeout, and migrations under one write lock,
// so two app containers sharing the volume during a blue-green overlap neither corrupt nor lose rows.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations.ts';

export const DATABASE_FILE = 'gangway.sqlite';
/** How long a write waits for another process's lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

export interface OpenedDatabase {
  db: DatabaseSync;
  file: string;
  schemaVersion: number;
  applied: number[];
}

function userVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number } | undefined;
  return row?.user_version ?? 0;
}

/** Applies the missing migrations inside one IMMEDIATE transaction: a second process waits, then finds nothing to do. */
export function migrate(db: DatabaseSync, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const applied: number[] = [];
  db.exec('BEGIN IMMEDIATE');
  try {
    const current = userVersion(db);
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.exec(`PRAGMA user_version = ${migration.version}`);
      applied.push(migration.version);
    }
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
  return applied;
}

function isBusy(error: unknown): boolean {
  return (error as { errcode?: number }).errcode === 5 || /database is locked/.test(String(error));
}

/**
 * Runs `fn` again while SQLite answers SQLITE_BUSY, up to the busy timeout. Switching a new
 * file to WAL takes an exclusive lock for which SQLite does not call its busy handler, so two
 * containers that open the same fresh volume at the same instant would otherwise crash one.
 */
export function retryWhileBusy<T>(fn: () => T, timeoutMs = BUSY_TIMEOUT_MS): T {
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      return fn();
    } catch (error) {
      if (!isBusy(error) || Date.now() + delay > deadline) throw error;
      Atomics.wait(pause, 0, 0, delay + Math.random() * delay);
    }
  }
}

export function openDatabase(dataDir: string): OpenedDatabase {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, DATABASE_FILE);
  const db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS });
  // WAL lets readers run beside the one writer; NORMAL sync is durable across app crashes in WAL mode.
  retryWhileBusy(() => db.exec('PRAGMA journal_mode = WAL'));
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA foreign_keys = ON');
  const applied = retryWhileBusy(() => migrate(db));
  const schemaVersion = userVersion(db);
  return { db, file, schemaVersion, applied };
}

/** True when this code knows every migration the database has seen (false after a rollback to an older app). */
export function schemaIsKnown(schemaVersion: number): boolean {
  return schemaVersion <= LATEST_SCHEMA_VERSION;
}
