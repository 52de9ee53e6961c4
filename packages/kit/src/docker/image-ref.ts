import { ConfigurationError } from '../errors.ts';

/** A parsed image reference: `[registry/]path[:tag][@digest]`. */
export interface ImageReference {
  /** Registry host (with port), `docker.io` when none is written. */
  registry: string;
  /** Repository path inside the registry (`library/node` for `node` on Docker Hub). */
  path: string;
  /** registry/path as written, normalised (what `docker push` takes without a tag). */
  repository: string;
  tag?: string;
  digest?: string;
}

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/**
 * Parses an image reference by Docker's rules: the first component is a registry when it
 * holds a `.` or a `:` or is `localhost`; path components are lower case.
 */
export function parseImageReference(raw: string, input = 'image'): ImageReference {
  const value = raw.trim();
  const fail = (why: string): never => {
    throw new ConfigurationError(`Input "${input}" is "${value}": ${why}. Write it as registry.example.com/team/app (optionally :tag).`, input);
  };
  if (value === '') fail('it is empty');
  let rest = value;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) fail(`"${digest}" is not a sha256 digest`);
  }
  let registry = 'docker.io';
  const slash = rest.indexOf('/');
  const first = slash === -1 ? '' : rest.slice(0, slash);
  if (slash !== -1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    rest = rest.slice(slash + 1);
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:]+\](:\d{1,5})?$/.test(registry)) fail(`"${registry}" is not a registry host`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag)) fail(`"${tag}" is not a valid tag (letters, digits, _ . -, up to 128, not starting with . or -)`);
  }
  if (rest === '') fail('the repository name is missing');
  const components = rest.split('/');
  for (const c of components) {
    if (!PATH_COMPONENT.test(c)) fail(`"${c}" is not a valid repository name component (lower-case letters, digits, and . _ - between them)`);
  }
  const path = registry === 'docker.io' && components.length === 1 ? `library/${rest}` : rest;
  const repository = registry === 'docker.io' ? rest : `${registry}/${rest}`;
  if (repository.length > 255) fail('the repository name is longer than 255 characters');
  return { registry, path, repository, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** `repository:tag` or `repository@digest`. */
export function formatImageReference(ref: Pick<ImageReference, 'repository' | 'tag' | 'digest'>): string {
  if (ref.digest) return `${ref.repository}@${ref.digest}`;
  return ref.tag ? `${ref.repository}:${ref.tag}` : ref.repository;
}
