import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  ConfigurationError,
  defaultDockerHost,
  parseDockerHost,
  parseImageReference,
  readEventPayload,
  readRunContext,
  registryServerAddress,
  resolveWorkspacePath,
  runnerPathRoots,
  type DockerHost,
  type ImageReference,
  type Inputs,
  type RegistryCredentials,
} from '@gangway/kit';
import { computeTags, ociLabels, parseTagRules, type GitHubBuildContext, type TagPlan } from './tags.ts';

export type BuilderChoice = 'auto' | 'buildkit' | 'classic';

/** Everything the action does, decided from its inputs and the GitHub context before any side effect. */
export interface BuildSettings {
  dockerHost: DockerHost;
  /** Absolute path of the build context. */
  context: string;
  /** Absolute path of the Dockerfile. */
  file: string;
  target: string | undefined;
  buildArgs: Record<string, string>;
  /** OCI labels merged with the user's (the user's win). */
  labels: Record<string, string>;
  platform: string | undefined;
  builder: BuilderChoice;
  image: ImageReference;
  tagPlan: TagPlan;
  /** Just the tag names, in order. */
  tags: string[];
  testTarget: string | undefined;
  /** Exec form: argv; a string is run by `sh -c`. */
  testCommand: string[] | undefined;
  push: boolean;
  /** Credentials for the registry of `image`; undefined for anonymous access. */
  credentials: RegistryCredentials | undefined;
  /** Full references to import build cache from. */
  cacheFrom: string[];
  noCache: boolean;
}

export interface Environment {
  env: NodeJS.ProcessEnv;
  /** The event payload (already read from GITHUB_EVENT_PATH). */
  payload: Record<string, unknown>;
  now: Date;
}

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  return { env, payload: readEventPayload(env), now: new Date() };
}

export function githubContext(environment: Environment): GitHubBuildContext {
  const run = readRunContext(environment.env);
  return { eventName: run.eventName, ref: run.ref, sha: run.sha, repository: run.repository, serverUrl: run.serverUrl, payload: environment.payload };
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function parseTestCommand(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  if (raw.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((p) => typeof p === 'string')) {
      throw new ConfigurationError('Input "test-command" starts with "[" but is not a JSON array of strings. Write ["npm","test"] or a plain command line, which runs with sh -c.', 'test-command');
    }
    return parsed;
  }
  return ['sh', '-c', raw];
}

/** Reads every input once, checks them all, and decides tags, labels and cache sources. */
export function readSettings(inputs: Inputs, environment: Environment): BuildSettings {
  // Secrets first: nothing below may print before the runner masks them.
  const password = inputs.secret('registry-password');
  const username = inputs.string('registry-username');
  const env = environment.env;

  const dockerHost = parseDockerHost(inputs.string('docker-host') ?? defaultDockerHost(env), 'docker-host', {
    ...(env['DOCKER_TLS_VERIFY'] ? { tls: env['DOCKER_TLS_VERIFY'] !== '' && env['DOCKER_TLS_VERIFY'] !== '0' } : {}),
  });

  // The context is sent to the engine and the Dockerfile read: both must lie in the workspace
  // (or RUNNER_TEMP), symlinks followed, or a step could ship the runner's files to a registry.
  const roots = runnerPathRoots(env);
  const context = resolveWorkspacePath(inputs.string('context') ?? '.', 'context', roots);
  if (!existsSync(context) || !statSync(context).isDirectory()) {
    throw new ConfigurationError(`Input "context" is "${inputs.raw('context') || '.'}", but ${context} is not a directory. Give a folder of the checkout (relative to the workspace).`, 'context');
  }
  const fileInput = inputs.string('file');
  const file = resolveWorkspacePath(fileInput ?? path.join(context, 'Dockerfile'), 'file', roots);
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new ConfigurationError(`Input "file" ${fileInput === undefined ? 'is not set, and there is no Dockerfile in the context' : `is "${fileInput}"`}: ${file} does not exist. Give the Dockerfile's path relative to the workspace.`, 'file');
  }

  const imageInput: string = inputs.string('image', { required: true, hint: 'Give the repository to push to, without a tag: registry.example.com/team/app.' });
  const image = parseImageReference(imageInput, 'image');
  if (image.tag !== undefined || image.digest !== undefined) {
    throw new ConfigurationError(`Input "image" is "${inputs.raw('image')}": give the repository without a tag or digest (${image.repository}); tags come from the tag rules and the "tags" input.`, 'image');
  }

  const rules = parseTagRules(inputs.list('tags', { commas: true }));
  const ctx = githubContext(environment);
  const defaultBranch = inputs.string('default-branch');
  const tagPlan = computeTags(ctx, { ...rules, ...(defaultBranch ? { defaultBranch } : {}) });
  if (tagPlan.tags.length === 0) {
    throw new ConfigurationError('No tag applies to this event (every rule is off or the ref is unusual). Add a raw tag in the "tags" input.', 'tags');
  }

  const buildArgs = Object.fromEntries(inputs.keyValues('build-args', { keyPattern: KEY }));
  const labels = { ...ociLabels(ctx, tagPlan, environment.now), ...Object.fromEntries(inputs.keyValues('labels', { keyPattern: KEY })) };

  const platform = inputs.string('platform');
  if (platform !== undefined && !/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(platform)) {
    throw new ConfigurationError(`Input "platform" is "${platform}": write one platform as os/arch[/variant], like linux/amd64.`, 'platform');
  }

  const testTarget = inputs.string('test-target');
  const testCommand = parseTestCommand(inputs.string('test-command'));

  const push = inputs.boolean('push', true);
  if (password !== undefined && username === undefined) {
    throw new ConfigurationError('Input "registry-password" is set but "registry-username" is not. Give both, or neither for a registry without auth.', 'registry-username');
  }
  if (username !== undefined && password === undefined) {
    throw new ConfigurationError('Input "registry-username" is set but "registry-password" is not. Give the password (or token) from a secret.', 'registry-password');
  }
  const credentials = username !== undefined && password !== undefined ? { username, password, serveraddress: registryServerAddress(image.registry) } : undefined;

  const cacheInput = inputs.list('cache-from', { commas: true });
  let cacheFrom: string[];
  if (cacheInput.length === 1 && cacheInput[0] === 'none') cacheFrom = [];
  else if (cacheInput.length > 0) cacheFrom = cacheInput.map((ref) => {
    const parsed = parseImageReference(ref, 'cache-from');
    return parsed.tag || parsed.digest ? ref : `${parsed.repository}:latest`;
  });
  else cacheFrom = tagPlan.cacheTags.map((t) => `${image.repository}:${t}`);

  return {
    dockerHost,
    context,
    file,
    target: inputs.string('target'),
    buildArgs,
    labels,
    platform,
    builder: inputs.choice('builder', ['auto', 'buildkit', 'classic'] as const, 'auto'),
    image,
    tagPlan,
    tags: tagPlan.tags.map((t) => t.tag),
    testTarget,
    testCommand,
    push,
    credentials,
    cacheFrom,
    noCache: inputs.boolean('no-cache', false),
  };
}
