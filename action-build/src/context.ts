import { createReadStream, readFileSync, readdirSync, lstatSync, readlinkSync, existsSync, type Stats } from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import dockerignore from '@balena/dockerignore';
import tar from 'tar-stream';
import { toError } from '@gangway/kit';

/** The build context as the engine receives it: a tar stream, and what went into it. */
export interface BuildContext {
  stream: Readable;
  /** The Dockerfile's path inside the context (the `dockerfile` build parameter). */
  dockerfile: string;
  /** Resolves when the whole context has been written: file count and bytes. */
  done: Promise<{ files: number; bytes: number }>;
}

/** Where the Dockerfile goes when it lives outside the context (the docker CLI does the same). */
export const OUTSIDE_DOCKERFILE = '.gangway.Dockerfile';

export interface ContextEntry {
  /** Relative path with forward slashes. */
  name: string;
  absolute: string;
  stats: Stats;
}

interface IgnoreRule {
  exception: boolean;
  body: string;
  matcher: ReturnType<typeof dockerignore>;
}

function parseIgnoreRules(patterns: string): IgnoreRule[] {
  return patterns
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const exception = l.startsWith('!');
      const body = (exception ? l.slice(1) : l).replace(/^\/+/, '');
      return { exception, body, matcher: dockerignore({ ignorecase: false }).add(body) };
    });
}

/** Whether `pattern` could match something below the folder `dir` (both relative, `/`-separated). */
function couldMatchBelow(pattern: string, dir: string): boolean {
  const p = pattern.split('/');
  const d = dir.split('/');
  for (let i = 0; i < p.length; i++) {
    const segment = p[i] as string;
    if (/[*?[\\]/.test(segment)) return true;
    if (i >= d.length) return true;
    if (segment !== d[i]) return false;
  }
  return false;
}

/**
 * An ignored folder is walked only when an exception (`!pattern`) could keep something in
 * it and no later exclusion covers the folder again (a node_modules exclusion after a package.json exception).
 */
function mayKeepBelow(rules: IgnoreRule[], dir: string): boolean {
  return rules.some((rule, index) => rule.exception && couldMatchBelow(rule.body, dir) && !rules.slice(index + 1).some((later) => !later.exception && later.matcher.ignores(dir)));
}

/** The files of a context that `.dockerignore` keeps, sorted, directories before what they hold. */
export function listContext(contextDir: string, alwaysInclude: string[] = []): ContextEntry[] {
  const ignoreFile = path.join(contextDir, '.dockerignore');
  const patterns = existsSync(ignoreFile) ? readFileSync(ignoreFile, 'utf8') : '';
  const ig = dockerignore({ ignorecase: false }).add(patterns);
  const rules = parseIgnoreRules(patterns);
  const keep = new Set(alwaysInclude);
  const keepDirs = new Set(alwaysInclude.flatMap((f) => f.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
  const entries: ContextEntry[] = [];
  const walk = (dirRel: string): void => {
    const names = readdirSync(path.join(contextDir, dirRel)).sort();
    for (const name of names) {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      const absolute = path.join(contextDir, rel);
      const stats = lstatSync(absolute);
      const ignored = ig.ignores(rel) && !keep.has(rel);
      if (stats.isDirectory()) {
        if (ignored && !keepDirs.has(rel) && !mayKeepBelow(rules, rel)) continue;
        if (!ignored) entries.push({ name: rel, absolute, stats });
        walk(rel);
      } else if (!ignored && (stats.isFile() || stats.isSymbolicLink())) {
        entries.push({ name: rel, absolute, stats });
      }
    }
  };
  walk('');
  return entries;
}

/**
 * Packs `contextDir` into a tar stream as the docker CLI would: `.dockerignore` honoured,
 * the Dockerfile and .dockerignore always sent, owner root, modes and mtimes kept.
 */
export function createBuildContext(contextDir: string, dockerfilePath: string): BuildContext {
  const relative = path.relative(contextDir, dockerfilePath);
  const inside = !relative.startsWith('..') && !path.isAbsolute(relative);
  const dockerfile = inside ? relative.split(path.sep).join('/') : OUTSIDE_DOCKERFILE;
  const entries = listContext(contextDir, inside ? [dockerfile, '.dockerignore'] : ['.dockerignore']);
  const pack = tar.pack();
  const out = new PassThrough();
  const done = (async () => {
    let bytes = 0;
    let files = 0;
    const write = async (header: Partial<tar.Header> & { name: string }, body?: Readable | Buffer): Promise<void> => {
      if (body === undefined || Buffer.isBuffer(body)) {
        await new Promise<void>((resolve, reject) => pack.entry(header, body ?? '', (err) => (err ? reject(err) : resolve())));
        return;
      }
      const entry = pack.entry(header);
      await pipeline(body, entry);
    };
    const common = { uid: 0, gid: 0 };
    for (const e of entries) {
      const mode = e.stats.mode & 0o7777;
      if (e.stats.isDirectory()) await write({ ...common, name: `${e.name}/`, type: 'directory', mode, mtime: e.stats.mtime });
      else if (e.stats.isSymbolicLink()) await write({ ...common, name: e.name, type: 'symlink', linkname: readlinkSync(e.absolute), mode, mtime: e.stats.mtime });
      else {
        files++;
        bytes += e.stats.size;
        await write({ ...common, name: e.name, type: 'file', size: e.stats.size, mode, mtime: e.stats.mtime }, createReadStream(e.absolute));
      }
    }
    if (!inside) {
      const content = readFileSync(dockerfilePath);
      files++;
      bytes += content.length;
      await write({ ...common, name: OUTSIDE_DOCKERFILE, type: 'file', size: content.length, mode: 0o644, mtime: new Date(0) }, content);
    }
    pack.finalize();
    return { files, bytes };
  })();
  done.catch((error: unknown) => out.destroy(toError(error)));
  pack.pipe(out);
  return { stream: out, dockerfile, done };
}
