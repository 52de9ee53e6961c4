// Resolves what a manual deploy asks for to an immutable image reference, and fails when
// the registry does not have it (the deploy workflow's dispatch gate).
//   node scripts/resolve-image.ts <image> [--repository registry.example.com/team/app]
// <image> is repo@sha256:…, repo:tag, or just a tag or git sha (then --repository is used).
// Credentials come from REGISTRY_USERNAME / REGISTRY_PASSWORD (never from arguments).
// Prints repo@sha256:… and, on a runner, writes image-ref= and digest= to GITHUB_OUTPUT.
import { appendFileSync } from 'node:fs';
import { parseImageReference } from '../packages/kit/src/docker/image-ref.ts';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface Credentials {
  username: string;
  password: string;
}

/** The full reference for what was asked: a bare tag or sha goes with `repository`. */
export function requestedReference(image: string, repository: string | undefined): string {
  const value = image.trim();
  if (/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(value) && !value.includes('/')) {
    if (!repository) throw new Error(`"${value}" is a bare tag: give --repository (the image repository, e.g. registry.example.com/team/app).`);
    return `${repository}:${value}`;
  }
  return value;
}

function registryBase(registry: string): string {
  const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  const plain = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);
  return `${plain ? 'http' : 'https'}://${host}`;
}

function basic(credentials: Credentials | undefined): Record<string, string> {
  return credentials ? { authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` } : {};
}

/** Parses `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const [scheme = '', ...rest] = header.trim().split(/\s+/);
  const params: Record<string, string> = {};
  for (const m of rest.join(' ').matchAll(/(\w+)="([^"]*)"/g)) params[m[1] as string] = m[2] as string;
  return { scheme: scheme.toLowerCase(), params };
}

async function bearerToken(challenge: Record<string, string>, credentials: Credentials | undefined, signal: AbortSignal): Promise<string> {
  if (!challenge.realm) throw new Error('the registry asked for a token but named no realm');
  const url = new URL(challenge.realm);
  if (challenge.service) url.searchParams.set('service', challenge.service);
  if (challenge.scope) url.searchParams.set('scope', challenge.scope);
  const response = await fetch(url, { headers: basic(credentials), signal });
  if (!response.ok) throw new Error(`the registry's token service answered HTTP ${response.status}${response.status === 401 ? ' (check REGISTRY_USERNAME / REGISTRY_PASSWORD)' : ''}`);
  const body = (await response.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new Error("the registry's token service returned no token");
  return token;
}

/** `repository@sha256:…` of `reference`, asking the registry (HEAD on the manifest). */
export async function resolveImage(reference: string, credentials: Credentials | undefined, options: { timeoutMs?: number } = {}): Promise<{ imageRef: string; digest: string }> {
  const ref = parseImageReference(reference, 'image-ref');
  const signal = AbortSignal.timeout(options.timeoutMs ?? 30_000);
  const url = `${registryBase(ref.registry)}/v2/${ref.path}/manifests/${ref.digest ?? ref.tag ?? 'latest'}`;
  const head = (headers: Record<string, string>): Promise<Response> => fetch(url, { method: 'HEAD', headers: { accept: MANIFEST_TYPES, ...headers }, signal });
  let response = await head({});
  if (response.status === 401) {
    const { scheme, params } = parseChallenge(response.headers.get('www-authenticate') ?? '');
    response = scheme === 'bearer' ? await head({ authorization: `Bearer ${await bearerToken(params, credentials, signal)}` }) : await head(basic(credentials));
  }
  const shown = `${ref.repository}${ref.digest ? `@${ref.digest}` : `:${ref.tag ?? 'latest'}`}`;
  if (response.status === 404) throw new Error(`${shown} is not in the registry: check the tag (or digest) and the repository.`);
  if (response.status === 401 || response.status === 403) throw new Error(`the registry refused access to ${shown} (HTTP ${response.status}): check REGISTRY_USERNAME / REGISTRY_PASSWORD.`);
  if (!response.ok) throw new Error(`the registry answered HTTP ${response.status} for ${shown}.`);
  const digest = response.headers.get('docker-content-digest') ?? ref.digest;
  if (!digest || !/^sha256:[a-f0-9]{64}$/.test(digest)) throw new Error(`the registry sent no digest for ${shown}.`);
  if (ref.digest && digest !== ref.digest) throw new Error(`the registry serves ${digest} for ${shown}.`);
  return { imageRef: `${ref.repository}@${digest}`, digest };
}

if (import.meta.filename === process.argv[1]) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--repository');
  const repository = at === -1 ? undefined : args[at + 1];
  const image = args.find((a, i) => !a.startsWith('--') && (at === -1 || i !== at + 1));
  const username = process.env.REGISTRY_USERNAME ?? '';
  const password = process.env.REGISTRY_PASSWORD ?? '';
  try {
    if (!image) throw new Error('usage: node scripts/resolve-image.ts <image|tag> [--repository registry/team/app]');
    const { imageRef, digest } = await resolveImage(requestedReference(image, repository), username || password ? { username, password } : undefined);
    console.log(imageRef);
    if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, `image-ref=${imageRef}\ndigest=${digest}\n`);
  } catch (error) {
    console.error(`::error title=Image not deployable::${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
