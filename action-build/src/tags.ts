import { ConfigurationError, isValidTag } from '@gangway/kit';

/** What the tag rules look at: the parts of the GitHub context and event payload that matter. */
export interface GitHubBuildContext {
  eventName: string;
  /** `refs/heads/main`, `refs/tags/v1.2.3`, `refs/pull/7/merge`. */
  ref: string;
  /** GITHUB_SHA: on pull requests, the merge commit the runner checked out. */
  sha: string;
  /** owner/name */
  repository: string;
  serverUrl: string;
  /** The event payload (GITHUB_EVENT_PATH). */
  payload: Record<string, unknown>;
}

export type RuleName = 'latest' | 'sha' | 'branch' | 'pr' | 'semver';
export const RULE_NAMES: readonly RuleName[] = ['latest', 'sha', 'branch', 'pr', 'semver'];

export interface TagRules {
  /** Rules switched on (all by default); `latest=false` in `tags` switches one off. */
  enabled: Record<RuleName, boolean>;
  /** Raw tags added as they are. */
  extra: string[];
  /** The repository's default branch when the payload does not say. */
  defaultBranch?: string;
}

/** Where each tag came from, for the summary and the report. */
export interface ComputedTag {
  tag: string;
  rule: RuleName | 'raw';
}

export interface TagPlan {
  tags: ComputedTag[];
  /** The version the image is labelled with (`1.2.3`, `main`, `pr-7`). */
  version: string;
  /** The commit the `sha-` tag names: the pull request's head on pull requests. */
  commit: string;
  /** Tags of this image that earlier builds of the same line pushed: the default cache sources. */
  cacheTags: string[];
}

const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/;

export interface Semver {
  major: string;
  minor: string;
  patch: string;
  prerelease?: string;
}

export function parseSemver(tag: string): Semver | undefined {
  const m = SEMVER.exec(tag);
  if (!m) return undefined;
  return { major: m[1] as string, minor: m[2] as string, patch: m[3] as string, ...(m[4] ? { prerelease: m[4] } : {}) };
}

/** A branch or tag name as a Docker tag: lower case, `/` and other odd characters to `-`. */
export function slugTag(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[.-]+/, '')
    .replace(/-+$/, '')
    .slice(0, 128)
    .replace(/-+$/, '');
  return slug;
}

const PULL_REQUEST_EVENTS = new Set(['pull_request', 'pull_request_target']);

interface PullRequestPayload {
  number?: number;
  pull_request?: { number?: number; head?: { sha?: string; ref?: string } };
  repository?: { default_branch?: string };
}

/**
 * Parses the `tags` input: each line either switches a rule (`latest=false`,
 * `sha=true`) or is a raw tag to add.
 */
export function parseTagRules(lines: string[], input = 'tags'): Omit<TagRules, 'defaultBranch'> {
  const enabled: Record<RuleName, boolean> = { latest: true, sha: true, branch: true, pr: true, semver: true };
  const extra: string[] = [];
  for (const line of lines) {
    const rule = /^([a-z-]+)\s*=\s*(\S+)$/.exec(line);
    if (rule) {
      const name = rule[1] as string;
      const value = rule[2] as string;
      if (!(RULE_NAMES as readonly string[]).includes(name)) {
        throw new ConfigurationError(`Input "${input}" has "${line}", but "${name}" is not a tag rule. Rules: ${RULE_NAMES.join(', ')} (set to true or false); other lines are raw tags.`, input);
      }
      if (value !== 'true' && value !== 'false') {
        throw new ConfigurationError(`Input "${input}" has "${line}": a rule is switched with true or false.`, input);
      }
      enabled[name as RuleName] = value === 'true';
      continue;
    }
    if (!isValidTag(line)) {
      throw new ConfigurationError(`Input "${input}" has "${line}", which is not a valid Docker tag: use letters, digits, _ . and -, up to 128 characters, not starting with . or -.`, input);
    }
    extra.push(line);
  }
  return { enabled, extra };
}

/**
 * The tags for one build, as docker/metadata-action would give with its common setup,
 * minus its surprises:
 * - push to the default branch: `latest`, `sha-<7>`, the branch
 * - push to another branch: `sha-<7>`, the branch (slugged: `feature/x` -> `feature-x`)
 * - tag `v1.2.3`: `1.2.3`, `1.2`, `1` (not for 0.x), `latest`, `sha-<7>`
 * - tag `v2.0.0-rc.1`: `2.0.0-rc.1`, `sha-<7>` (a pre-release moves no other tag)
 * - another tag: the tag slugged, `sha-<7>`
 * - pull request: `pr-<N>`, `sha-<7>` of the pull request's head commit (not the merge commit)
 */
export function computeTags(ctx: GitHubBuildContext, rules: TagRules): TagPlan {
  const payload = ctx.payload as PullRequestPayload;
  const defaultBranch = payload.repository?.default_branch ?? rules.defaultBranch ?? 'main';
  const out: ComputedTag[] = [];
  const add = (tag: string, rule: ComputedTag['rule']): void => {
    if (tag !== '' && rules.enabled[rule as RuleName] !== false && !out.some((t) => t.tag === tag)) out.push({ tag, rule });
  };
  let commit = ctx.sha;
  let version = '';
  const cacheTags: string[] = [];

  if (PULL_REQUEST_EVENTS.has(ctx.eventName)) {
    const number = payload.pull_request?.number ?? payload.number ?? Number(/^refs\/pull\/(\d+)\//.exec(ctx.ref)?.[1]);
    commit = payload.pull_request?.head?.sha ?? ctx.sha;
    if (Number.isFinite(number)) {
      version = `pr-${number}`;
      add(version, 'pr');
      if (rules.enabled.pr) cacheTags.push(version);
    }
    const headBranch = payload.pull_request?.head?.ref;
    if (headBranch && slugTag(headBranch)) cacheTags.push(slugTag(headBranch));
  } else if (ctx.ref.startsWith('refs/tags/')) {
    const name = ctx.ref.slice('refs/tags/'.length);
    const semver = parseSemver(name);
    if (semver && rules.enabled.semver) {
      const full = `${semver.major}.${semver.minor}.${semver.patch}${semver.prerelease ? `-${semver.prerelease}` : ''}`;
      version = full;
      add(full, 'semver');
      if (!semver.prerelease) {
        add(`${semver.major}.${semver.minor}`, 'semver');
        if (semver.major !== '0') add(semver.major, 'semver');
        add('latest', 'latest');
      }
    } else {
      version = slugTag(name);
      add(version, 'branch');
    }
  } else if (ctx.ref.startsWith('refs/heads/')) {
    const branch = ctx.ref.slice('refs/heads/'.length);
    version = slugTag(branch);
    if (branch === defaultBranch) add('latest', 'latest');
    add(version, 'branch');
    if (version) cacheTags.push(version);
  }
  if (/^[0-9a-f]{7,40}$/.test(commit)) add(`sha-${commit.slice(0, 7)}`, 'sha');
  for (const tag of rules.extra) add(tag, 'raw');
  if (version === '') version = out[0]?.tag ?? `sha-${commit.slice(0, 7)}`;
  return { tags: out, version, commit, cacheTags: ['latest', ...cacheTags.filter((t) => t !== 'latest')] };
}

/** The OCI annotations every image gets; user labels override them. */
export function ociLabels(ctx: GitHubBuildContext, plan: TagPlan, created: Date): Record<string, string> {
  const title = ctx.repository.split('/')[1] ?? ctx.repository;
  return {
    'org.opencontainers.image.source': `${ctx.serverUrl}/${ctx.repository}`,
    'org.opencontainers.image.revision': ctx.sha,
    'org.opencontainers.image.created': created.toISOString(),
    'org.opencontainers.image.version': plan.version,
    'org.opencontainers.image.title': title,
  };
}
