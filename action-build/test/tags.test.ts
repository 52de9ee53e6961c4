import { describe, expect, it } from 'vitest';
import { computeTags, ociLabels, parseSemver, parseTagRules, slugTag, type GitHubBuildContext, type TagRules } from '../src/tags.ts';

const SHA = '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const HEAD = '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const repo = { repository: { default_branch: 'main' } };

function ctx(eventName: string, ref: string, payload: Record<string, unknown> = repo): GitHubBuildContext {
  return { eventName, ref, sha: SHA, repository: 'acme/shop', serverUrl: 'https://github.com', payload };
}
const defaults: TagRules = { ...parseTagRules([]) };
const tagsOf = (c: GitHubBuildContext, rules: TagRules = defaults): string[] => computeTags(c, rules).tags.map((t) => t.tag);

describe('tag rules over event payloads', () => {
  it.each([
    ['push to the default branch', ctx('push', 'refs/heads/main'), ['latest', 'main', 'sha-1111111']],
    ['push to another branch', ctx('push', 'refs/heads/feature/Login_UI'), ['feature-login_ui', 'sha-1111111']],
    ['tag v1.2.3', ctx('push', 'refs/tags/v1.2.3'), ['1.2.3', '1.2', '1', 'latest', 'sha-1111111']],
    ['tag v2.0.0-rc.1 (pre-release)', ctx('push', 'refs/tags/v2.0.0-rc.1'), ['2.0.0-rc.1', 'sha-1111111']],
    ['tag v0.4.1 (no bare 0)', ctx('push', 'refs/tags/v0.4.1'), ['0.4.1', '0.4', 'latest', 'sha-1111111']],
    ['a non-semver tag', ctx('push', 'refs/tags/release-2024'), ['release-2024', 'sha-1111111']],
    [
      'pull_request (head sha, not the merge commit)',
      ctx('pull_request', 'refs/pull/42/merge', { ...repo, number: 42, pull_request: { number: 42, head: { sha: HEAD, ref: 'fix/bug' } } }),
      ['pr-42', 'sha-2222222'],
    ],
    ['workflow_dispatch on main', ctx('workflow_dispatch', 'refs/heads/main'), ['latest', 'main', 'sha-1111111']],
  ])('%s', (_name, context, expected) => {
    expect(tagsOf(context)).toEqual(expected);
  });

  it('uses the default-branch input only when the payload has none', () => {
    expect(tagsOf(ctx('push', 'refs/heads/trunk', {}), { ...defaults, defaultBranch: 'trunk' })).toContain('latest');
    expect(tagsOf(ctx('push', 'refs/heads/trunk', repo), { ...defaults, defaultBranch: 'trunk' })).not.toContain('latest');
    expect(tagsOf(ctx('push', 'refs/heads/main', {}))).toContain('latest');
  });

  it('switches rules off and adds raw tags from the tags input', () => {
    const rules = parseTagRules(['latest=false', 'sha=false', 'edge', 'stable']);
    expect(tagsOf(ctx('push', 'refs/heads/main'), rules)).toEqual(['main', 'edge', 'stable']);
    expect(tagsOf(ctx('push', 'refs/tags/v1.2.3'), parseTagRules(['semver=false']))).toEqual(['v1.2.3', 'sha-1111111']);
  });

  it('rejects unknown rules and invalid raw tags, naming the input', () => {
    expect(() => parseTagRules(['lastest=false'])).toThrow(/Input "tags".*"lastest" is not a tag rule/);
    expect(() => parseTagRules(['latest=no'])).toThrow(/true or false/);
    expect(() => parseTagRules(['-bad'])).toThrow(/not a valid Docker tag/);
  });

  it('offers the latest and branch (or pr) tags as cache sources', () => {
    expect(computeTags(ctx('push', 'refs/heads/feature/x'), defaults).cacheTags).toEqual(['latest', 'feature-x']);
    expect(computeTags(ctx('pull_request', 'refs/pull/7/merge', { number: 7, pull_request: { number: 7, head: { sha: HEAD, ref: 'feature/x' } } }), defaults).cacheTags).toEqual(['latest', 'pr-7', 'feature-x']);
  });

  it('labels the image with OCI annotations', () => {
    const c = ctx('push', 'refs/tags/v1.2.3');
    const labels = ociLabels(c, computeTags(c, defaults), new Date('2026-01-02T03:04:05Z'));
    expect(labels).toEqual({
      'org.opencontainers.image.source': 'https://github.com/acme/shop',
      'org.opencontainers.image.revision': SHA,
      'org.opencontainers.image.created': '2026-01-02T03:04:05.000Z',
      'org.opencontainers.image.version': '1.2.3',
      'org.opencontainers.image.title': 'shop',
    });
  });
});

describe('helpers', () => {
  it('slugs names into tags', () => {
    expect(slugTag('Feature/ABC--def')).toBe('feature-abc-def');
    expect(slugTag('.hidden/x')).toBe('hidden-x');
    expect(slugTag('a'.repeat(200))).toHaveLength(128);
  });
  it('parses semver', () => {
    expect(parseSemver('v1.2.3')).toEqual({ major: '1', minor: '2', patch: '3' });
    expect(parseSemver('2.0.0-rc.1+build.5')).toEqual({ major: '2', minor: '0', patch: '0', prerelease: 'rc.1' });
    expect(parseSemver('v1.2')).toBeUndefined();
  });
});
