import { ConfigurationError, engineErrorMessage, engineStatusCode, messageError, pushedDigestOf, type RegistryCredentials } from '@gangway/kit';
import type { BuildEngine } from './engine.ts';

export interface PushOutcome {
  digest: string;
  /** repository:tag for every tag pushed. */
  pushed: string[];
  durationMs: number;
}

export class PushFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PushFailedError';
  }
}

const AUTH_FAILURE = /unauthori[sz]ed|authentication required|denied|401|incorrect username or password|no basic auth credentials/i;

/** The registry refused the credentials: names the registry and the user, never the password. */
export function credentialsRejected(registry: string, credentials: RegistryCredentials | undefined, detail: string): ConfigurationError {
  const who = credentials ? `user "${credentials.username}"` : 'anonymous access (no registry-username given)';
  return new ConfigurationError(
    `The registry ${registry} refused ${who}: ${detail}. Check "registry-username" and "registry-password" (a token needs push access to this repository).`,
    'registry-password',
  );
}

export function isAuthFailure(message: string): boolean {
  return AUTH_FAILURE.test(message);
}

/** Checks the credentials before building, so a wrong password fails in seconds. */
export async function verifyCredentials(engine: BuildEngine, registry: string, credentials: RegistryCredentials): Promise<void> {
  try {
    await engine.checkAuth(credentials);
  } catch (error) {
    const detail = engineErrorMessage(error);
    if (engineStatusCode(error) === 401 || isAuthFailure(detail)) throw credentialsRejected(registry, credentials, detail);
    throw new PushFailedError(`Could not log in to ${registry} to check the credentials: ${detail}`);
  }
}

/** Pushes every tag; all must name the same manifest digest. */
export async function pushTags(
  engine: BuildEngine,
  options: { repository: string; registry: string; tags: string[]; credentials: RegistryCredentials | undefined; print: (line: string) => void; signal?: AbortSignal },
): Promise<PushOutcome> {
  const started = performance.now();
  const pushed: string[] = [];
  let digest: string | undefined;
  for (const tag of options.tags) {
    const ref = `${options.repository}:${tag}`;
    options.print(`Pushing ${ref}`);
    let tagDigest: string | undefined;
    let failure: string | undefined;
    const seen = new Map<string, string>();
    try {
      for await (const message of engine.push(options.repository, tag, options.credentials, options.signal)) {
        const error = messageError(message);
        if (error) failure = error;
        const aux = pushedDigestOf(message);
        if (aux) tagDigest = aux.digest;
        // Layer states worth a line: Preparing/Waiting/Pushing progress is noise.
        if (message.id && message.status && /^(Pushed|Layer already exists|Mounted from|Already exists)/.test(message.status) && seen.get(message.id) !== message.status) {
          seen.set(message.id, message.status);
          options.print(`  ${message.id}: ${message.status}`);
        }
      }
    } catch (error) {
      failure = engineErrorMessage(error);
    }
    if (failure !== undefined) {
      if (isAuthFailure(failure)) throw credentialsRejected(options.registry, options.credentials, failure);
      throw new PushFailedError(`Pushing ${ref} failed${pushed.length ? ` (already pushed: ${pushed.join(', ')})` : ''}: ${failure}`);
    }
    if (!tagDigest) throw new PushFailedError(`Pushing ${ref} finished without the registry reporting a digest.`);
    if (digest !== undefined && digest !== tagDigest) throw new PushFailedError(`Tag ${tag} was pushed as ${tagDigest}, but earlier tags as ${digest}: the image changed during the push.`);
    digest = tagDigest;
    pushed.push(ref);
    options.print(`  ${ref} -> ${tagDigest}`);
  }
  if (!digest) throw new PushFailedError('No tag to push.');
  return { digest, pushed, durationMs: Math.round(performance.now() - started) };
}
