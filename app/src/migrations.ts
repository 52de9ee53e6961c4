// The SQLite schema, versioned in code. Each step is additive (expand, never contract) so that during a
// blue-green overlap the previous app version keeps working on a database the new version has migrated.

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'results: one row per OCR request, addressed by its share token',
    sql: `
      CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        token TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        image_format TEXT NOT NULL,
        image_file TEXT,
        image_bytes INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        text TEXT NOT NULL,
        lines_json TEXT NOT NULL,
        timings_json TEXT NOT NULL,
        total_ms REAL NOT NULL,
        inference_ms REAL NOT NULL,
        app_version TEXT NOT NULL,
        instance TEXT NOT NULL
      );
      CREATE INDEX results_created_at ON results (created_at);
    `,
  },
  {
    version: 2,
    description: 'instance_heartbeats: the readiness probe writes here to prove the volume is writable',
    sql: `
      CREATE TABLE instance_heartbeats (
        instance TEXT PRIMARY KEY,
        app_version TEXT NOT NULL,
        seen_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 3,
    description: 'failed_jobs: OCR jobs the queue gave up on (APP_ROLE=web), with the reason the result page shows',
    sql: `
      CREATE TABLE failed_jobs (
        token TEXT PRIMARY KEY,
        failed_at INTEGER NOT NULL,
        code TEXT NOT NULL,
        reason TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        app_version TEXT NOT NULL,
        instance TEXT NOT NULL
      );
    `,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;
