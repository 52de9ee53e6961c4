// Pulls the image on the server with the registry credentials in the request header only
// (nothing is written on the server), and resolves what was pulled to `repo@sha256:…`.
import { formatImageReference, registryAuthHeader, registryServerAddress, type ImageReference } from '@gangway/kit';
import type { DeployEngine } from './engine.ts';

export interface PulledImage {
  /** `repo@sha256:…`: what every container of this deploy is created from. */
  ref: string;
  digest: string;
  /** The local image id. */
  id: string;
  hasHealthcheck: boolean;
  /** What was asked for, as written (`repo:tag` or `repo@digest`). */
  requested: string;
}

export interface PullOptions {
  registry?: { username: string; password: string };
  log: (line: string) => void;
}

/** The digest for this repository among an image's RepoDigests. */
export function digestFor(repository: string, repoDigests: string[]): string | undefined {
  for (const rd of repoDigests) {
    const at = rd.lastIndexOf('@');
    if (at !== -1 && rd.slice(0, at) === repository) return rd.slice(at + 1);
  }
  return undefined;
}

export async function pullImage(engine: DeployEngine, image: ImageReference, options: PullOptions): Promise<PulledImage> {
  const requested = formatImageReference(image);
  const auth = options.registry
    ? registryAuthHeader({ ...options.registry, serveraddress: registryServerAddress(image.registry) })
    : undefined;
  const seen = new Set<string>();
  await engine.pull(image.repository, image.digest ?? image.tag ?? 'latest', auth, (m) => {
    // Layer-by-layer progress is noise in a CI log: one line per layer state, plus the summary lines.
    const line = m.id ? `${m.id}: ${m.status ?? ''}` : (m.status ?? m.stream ?? '').trim();
    if (line && !m.progressDetail?.current && !seen.has(line)) {
      seen.add(line);
      options.log(line);
    }
  });
  const details = await engine.inspectImage(requested);
  if (!details) throw new Error(`The engine reported the pull of ${requested} as done, but has no such image.`);
  const digest = image.digest ?? digestFor(image.repository, details.repoDigests);
  if (!digest) {
    throw new Error(`${requested} was pulled but the engine recorded no digest for ${image.repository} (RepoDigests: ${details.repoDigests.join(', ') || 'none'}). Deploy from a registry, by digest.`);
  }
  return { ref: `${image.repository}@${digest}`, digest, id: details.id, hasHealthcheck: details.hasHealthcheck, requested };
}
