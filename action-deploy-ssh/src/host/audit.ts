// The audit log on the server (issue #20): one line for every deploy, rollback and maintenance switch
// of an app on a host, kept in a volume of its own (`gangway-audit`) that no retention ever touches.
// Written through the Docker API, never a shell: a throwaway container of an image the host has, with
// the volume mounted, is created (never started); the app's file is read from it and written back
// with the new line (get-archive, put-archive), and the container is removed. Every write happens
// under the app's deploy lock, so two runs never append to one file at once. One file per app and
// year: a read stays small however long the server lives.
import { randomBytes } from 'node:crypto';
import { LABEL } from '../labels.ts';
import type { DeployEngine } from './engine.ts';
import { tarArchive } from './tar.ts';

export const AUDIT_VOLUME = 'gangway-audit';
/** Where the volume is mounted in the throwaway container. */
const AUDIT_DIR = '/gangway-audit';

/** One line of the log (JSON). */
export interface AuditEntry {
  /** ISO time the run ended on this host. */
  time: string;
  host: string;
  app: string;
  /** deploy, rollback or maintenance. */
  action: string;
  /** The roles the run changed (the app's container is the web role). */
  roles: string[];
  /** Accessories the run upgraded, as name=image. */
  accessories?: string[];
  actor: string;
  run: string;
  /** What runs now, or what the failed run tried (repo@sha256:…). */
  image?: string;
  digest?: string;
  /** deployed, rolled-back, failed, ... (the host's result). */
  result: string;
  /** The maintenance page after a maintenance switch. */
  maintenance?: 'on' | 'off';
}

export function auditFile(app: string, year: number): string {
  return `${app}/${year}.log`;
}

/** The entries in a log file's text, oldest first; a line that is not an entry is skipped. */
export function parseAudit(text: string): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const value = JSON.parse(line) as AuditEntry;
      const strings = [value.time, value.host, value.app, value.action, value.actor, value.run, value.result];
      if (strings.every((v) => typeof v === 'string') && Array.isArray(value.roles)) entries.push(value);
    } catch {
      // A torn line (a server that lost power mid-write) does not hide the others.
    }
  }
  return entries;
}

/** A created, never started container of `image` with the audit volume; removed after `fn`. */
async function withAuditVolume<T>(engine: DeployEngine, image: string, fn: (id: string) => Promise<T>): Promise<T> {
  const id = await engine.createContainer({
    name: `gangway-audit-${randomBytes(4).toString('hex')}`,
    Image: image,
    Entrypoint: ['/gangway-audit-is-never-started'],
    Cmd: [],
    Labels: { [LABEL.managed]: 'true', [LABEL.role]: 'audit' },
    HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: 'no' }, Mounts: [{ Type: 'volume', Source: AUDIT_VOLUME, Target: AUDIT_DIR }] },
  });
  try {
    return await fn(id);
  } finally {
    await engine.removeContainer(id, { force: true, anonymousVolumes: true }).catch(() => undefined);
  }
}

async function readYear(engine: DeployEngine, id: string, app: string, year: number): Promise<string> {
  return (await engine.readFile(id, `${AUDIT_DIR}/${auditFile(app, year)}`)) ?? '';
}

/** The last `count` entries of `app`, newest last (this year's file, and last year's when it holds fewer). */
async function lastOf(engine: DeployEngine, id: string, app: string, year: number, count: number, thisYear?: string): Promise<AuditEntry[]> {
  let entries = parseAudit(thisYear ?? (await readYear(engine, id, app, year)));
  if (entries.length < count) entries = [...parseAudit(await readYear(engine, id, app, year - 1)), ...entries];
  return entries.slice(-count);
}

/**
 * Appends `entry` to the app's log on the server (under the app's deploy lock) and returns the last
 * `count` entries, this one last. `image`: one the host has (the deploy's own, or the lock's).
 */
export async function appendAudit(engine: DeployEngine, image: string, entry: AuditEntry, count = 5): Promise<AuditEntry[]> {
  const year = new Date(entry.time).getUTCFullYear();
  return withAuditVolume(engine, image, async (id) => {
    const before = await readYear(engine, id, entry.app, year);
    const text = `${before}${before && !before.endsWith('\n') ? '\n' : ''}${JSON.stringify(entry)}\n`;
    await engine.putArchive(id, AUDIT_DIR, await tarArchive([{ name: `${entry.app}/` }, { name: auditFile(entry.app, year), content: text, mode: 0o644 }]));
    return lastOf(engine, id, entry.app, year, count, text);
  });
}

/** The last `count` entries of `app` on the server, newest last (nothing written). */
export async function readAudit(engine: DeployEngine, image: string, app: string, now: Date, count = 20): Promise<AuditEntry[]> {
  return withAuditVolume(engine, image, (id) => lastOf(engine, id, app, now.getUTCFullYear(), count));
}
