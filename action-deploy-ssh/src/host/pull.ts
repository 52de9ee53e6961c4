// Pulls the image on the server with the registry credentials in the request header only
// (nothing is written on the server), and resolves what was pulled to `repo@sha256:…`.
//
// When the registry fails, the error names it and says why (refused, timed out, HTTP status,
// transfer cut), which the engine's own text rarely does. Retries: the engine already retries
// every layer and the image config itself (6 attempts, 5 to 25 s apart for a layer: 75 s), so
// nothing is added on top of that. It does not retry the manifest: a registry behind a load
// balancer that answers 502/503 for a few seconds while it restarts fails the deploy at once.
// So a transient failure before any layer moved (a 5xx or 429, a reset, a timeout) is tried
// again twice, 2 s then 4 s later: a blip is absorbed, and a registry that stays broken fails
// the step within about 7 s more. A refused connection, a TLS or auth error, or a missing image
// are not retried: they do not heal in seconds. A pull that gets no message from the engine for
// `stallMs` (the registry accepted the connection and never answered; the engine has no
// timeout of its own there) is given up.
import {
  describeRegistryFailure,
  engineErrorText,
  formatImageReference,
  registryAuthHeader,
  registryServerAddress,
  retry,
  type ImageReference,
  type ProgressMessage,
  type RegistryFailure,
} from '@gangway/kit';
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
  /** Attempts for a transient failure before any layer moved (default 3). */
  attempts?: number;
  /** Wait before the second attempt; doubles after (default 2 s). */
  retryDelayMs?: number;
  /** Give up when the engine says nothing for this long (default 120 s). */
  stallMs?: number;
  /** For tests: replaces the timer of the retry waits. */
  sleep?: (ms: number) => Promise<void>;
}

export const PULL_ATTEMPTS = 3;
export const PULL_RETRY_DELAY_MS = 2000;
export const PULL_STALL_MS = 120_000;

/** Where the pull was when it failed. */
export type PullStage = 'manifest' | 'config' | 'layers';

/** The registry failed the pull: the message names the registry and the cause. */
export class RegistryPullError extends Error {
  readonly registry: string;
  readonly failure: RegistryFailure;
  readonly stage: PullStage;
  /** What the engine said, as it said it. */
  readonly engineMessage: string;
  /** Whether trying the whole pull again is worth it (see the top of this file). */
  readonly retryable: boolean;

  constructor(options: { requested: string; registry: string; failure: RegistryFailure; stage: PullStage; layer?: string; engineMessage: string; attempts: number; ms: number; retryable: boolean }) {
    const { failure, stage, layer } = options;
    const where = stage === 'manifest' ? 'fetching the manifest' : stage === 'config' ? 'fetching the image config' : layer ? `downloading layer ${layer}` : 'downloading the layers';
    const engineTries = failure.engineAttempts ? `, after the engine's ${failure.engineAttempts} attempts` : stage === 'layers' && failure.transient ? ", after the engine's own retries" : '';
    const ours = options.attempts > 1 ? `; ${options.attempts} attempts` : '';
    const seconds = (options.ms / 1000).toFixed(1);
    super(
      `Could not pull ${options.requested} from registry ${options.registry}: ${failure.cause}, while ${where}${engineTries}${ours} (${seconds} s). ` +
        `The engine said: ${options.engineMessage}`,
    );
    this.name = 'RegistryPullError';
    this.registry = options.registry;
    this.failure = failure;
    this.stage = stage;
    this.engineMessage = options.engineMessage;
    this.retryable = options.retryable;
  }
}

/** The digest for this repository among an image's RepoDigests. */
export function digestFor(repository: string, repoDigests: string[]): string | undefined {
  for (const rd of repoDigests) {
    const at = rd.lastIndexOf('@');
    if (at !== -1 && rd.slice(0, at) === repository) return rd.slice(at + 1);
  }
  return undefined;
}

class PullStalled extends Error {}

interface AttemptState {
  stage: PullStage;
  /** The layer the engine last reported trouble with (or progress on). */
  layer?: string;
}

async function pullOnce(engine: DeployEngine, image: ImageReference, auth: string | undefined, log: (line: string) => void, stallMs: number, state: AttemptState): Promise<void> {
  const seen = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let stalled: (() => void) | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    stalled = () => reject(new PullStalled());
  });
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => stalled?.(), stallMs);
  };
  const onMessage = (m: ProgressMessage): void => {
    arm();
    const status = m.status ?? '';
    if (m.id && !status.startsWith('Pulling from')) {
      state.stage = 'layers';
      if (/^(Retrying in|Downloading|Pulling fs layer)/.test(status)) state.layer = m.id;
    }
    // The engine counts a layer's retry down every second ("Retrying in 5 seconds", "… 4 …"):
    // one line per retry, when the countdown starts (its waits are multiples of 5 s).
    const retrying = /^Retrying in (\d+) seconds?$/.exec(status);
    if (retrying) {
      if (Number(retrying[1]) % 5 === 0 && !seen.has(`${m.id ?? ''}: ${status}`)) {
        seen.add(`${m.id ?? ''}: ${status}`);
        log(`${m.id ?? ''}: the registry failed this layer; the engine tries again in ${retrying[1]} s`);
      }
      return;
    }
    // Layer-by-layer progress is noise in a CI log: one line per layer state, plus the summary lines.
    const line = m.id ? `${m.id}: ${status}` : (status || m.stream || '').trim();
    if (line && !m.progressDetail?.current && !seen.has(line)) {
      seen.add(line);
      log(line);
    }
  };
  arm();
  const pulling = engine.pull(image.repository, image.digest ?? image.tag ?? 'latest', auth, onMessage);
  // A stalled pull is left to the engine: closing the connection to it (at the end of the step) cancels it.
  pulling.catch(() => undefined);
  try {
    await Promise.race([pulling, watchdog]);
  } finally {
    clearTimeout(timer);
  }
}

export async function pullImage(engine: DeployEngine, image: ImageReference, options: PullOptions): Promise<PulledImage> {
  const requested = formatImageReference(image);
  const auth = options.registry
    ? registryAuthHeader({ ...options.registry, serveraddress: registryServerAddress(image.registry) })
    : undefined;
  const attempts = Math.max(1, options.attempts ?? PULL_ATTEMPTS);
  const stallMs = options.stallMs ?? PULL_STALL_MS;
  const started = performance.now();
  await retry(
    async (attempt) => {
      const state: AttemptState = { stage: 'manifest' };
      try {
        await pullOnce(engine, image, auth, options.log, stallMs, state);
      } catch (error) {
        if (error instanceof PullStalled) {
          const failure: RegistryFailure = { kind: 'timeout', transient: false, cause: `unreachable: no progress for ${Math.round(stallMs / 1000)} s (the registry, or the network to it, stopped answering)` };
          throw new RegistryPullError({ requested, registry: image.registry, failure, stage: state.stage, ...(state.layer ? { layer: state.layer } : {}), engineMessage: '(nothing)', attempts: attempt, ms: performance.now() - started, retryable: false });
        }
        const text = engineErrorText(error);
        if (text === undefined) throw error;
        const failure = describeRegistryFailure(text);
        const stage: PullStage = /pulling image configuration/i.test(text) ? 'config' : state.stage;
        // Only what the engine did not already retry: the manifest, before any layer moved.
        const retryable = failure.transient && stage === 'manifest' && failure.engineAttempts === undefined;
        throw new RegistryPullError({ requested, registry: image.registry, failure, stage, ...(state.layer && stage === 'layers' ? { layer: state.layer } : {}), engineMessage: text, attempts: attempt, ms: performance.now() - started, retryable });
      }
    },
    {
      attempts,
      initialDelayMs: options.retryDelayMs ?? PULL_RETRY_DELAY_MS,
      factor: 2,
      jitter: 0.2,
      shouldRetry: (error) => error instanceof RegistryPullError && error.retryable,
      onRetry: (error, attempt, delayMs) => {
        const e = error as RegistryPullError;
        options.log(`registry ${e.registry}: ${e.failure.cause} (attempt ${attempt} of ${attempts}); trying again in ${(delayMs / 1000).toFixed(1)} s`);
      },
      ...(options.sleep ? { sleep: options.sleep } : {}),
    },
  );
  const details = await engine.inspectImage(requested);
  if (!details) throw new Error(`The engine reported the pull of ${requested} as done, but has no such image.`);
  const digest = image.digest ?? digestFor(image.repository, details.repoDigests);
  if (!digest) {
    throw new Error(`${requested} was pulled but the engine recorded no digest for ${image.repository} (RepoDigests: ${details.repoDigests.join(', ') || 'none'}). Deploy from a registry, by digest.`);
  }
  return { ref: `${image.repository}@${digest}`, digest, id: details.id, hasHealthcheck: details.hasHealthcheck, requested };
}

/**
 * An image the server needs beside the app's (the blue-green proxy, the shared edge): used as the engine
 * has it, pulled once when it has not. `auth` is asked only for a pull.
 */
export async function presentImage(engine: DeployEngine, image: ImageReference, what: string, log: (line: string) => void, auth: () => string | undefined = () => undefined): Promise<{ id: string; ref: string }> {
  const ref = formatImageReference(image);
  const present = await engine.inspectImage(ref);
  if (present) return { id: present.id, ref };
  log(`pulling the ${what} image ${ref}`);
  await engine.pull(image.repository, image.digest ?? image.tag ?? 'latest', auth(), () => undefined);
  const pulled = await engine.inspectImage(ref);
  if (!pulled) throw new Error(`the ${what} image ${ref} was pulled but the engine does not have it`);
  return { id: pulled.id, ref };
}

