// Files into a container through the Engine's "put archive" call, which takes a tar stream: the
// proxy's config, the lock's heartbeat. tar-stream writes the archive (regular files and
// directories, owned by root).
import { pack } from 'tar-stream';

export interface TarEntry {
  /** Relative path inside the archive (`gangway/nginx.conf`); a trailing `/` makes a directory. */
  name: string;
  content?: string | Buffer;
  mode?: number;
}

/** The tar archive of `entries` (owned by root, mtime now). */
export async function tarArchive(entries: TarEntry[], mtime = new Date()): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    archive.on('data', (chunk: unknown) => {
      chunks.push(Buffer.from(chunk as Uint8Array));
    });
    archive.on('end', () => resolve(Buffer.concat(chunks)));
    archive.on('error', reject);
  });
  const owner = { uid: 0, gid: 0, uname: 'root', gname: 'root', mtime };
  for (const entry of entries) {
    if (entry.name.endsWith('/')) archive.entry({ ...owner, name: entry.name, type: 'directory', mode: entry.mode ?? 0o755 });
    else archive.entry({ ...owner, name: entry.name, type: 'file', mode: entry.mode ?? 0o644 }, entry.content ?? '');
  }
  archive.finalize();
  return done;
}
