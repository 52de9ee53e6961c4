// Every YAML block in every README and in docs/ parses, passes actionlint, and calls Gangway's
// actions with declared inputs, every required one given (issue #15). The checks are shown to
// catch a planted invalid block and a planted unknown input, so that a pass means something.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/actions.ts';
import { parseChecks } from '../../action-smoke-test/src/schema.ts';
import { checkSnippet, extractSnippets, readActionInputs, type ActionInputs, type Snippet } from '../support/doc-snippets.ts';

const markdownFiles = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], { cwd: repoRoot, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && (path.basename(f) === 'README.md' || f.startsWith('docs/')) && !f.includes('node_modules/') && existsSync(path.join(repoRoot, f)));
const snippets: Snippet[] = markdownFiles.flatMap((f) => extractSnippets(f, readFileSync(path.join(repoRoot, f), 'utf8')));
/** What each action parses beyond names: smoke-test's checks list, with its own parser. */
const validators: Record<string, ActionInputs['validate']> = {
  'action-smoke-test': (input, value) => {
    if (input === 'checks') parseChecks(value);
  },
};
const inputsOf = (action: string): ActionInputs | undefined =>
  existsSync(path.join(repoRoot, action, 'action.yml')) ? { ...readActionInputs(path.join(repoRoot, action)), validate: validators[action] } : undefined;

describe('YAML blocks in the READMEs and docs/', () => {
  it('there are blocks to check, in the files users read first', () => {
    const files = new Set(snippets.map((s) => s.file));
    for (const f of ['README.md', 'action-build/README.md', 'action-deploy-ssh/README.md', 'action-notify/README.md', 'action-smoke-test/README.md', 'action-vpn-connect/README.md']) expect(files, f).toContain(f);
    console.log(`doc snippets: ${snippets.length} YAML blocks in ${files.size} files (${snippets.filter((s) => s.partial).length} marked partial)`);
  });

  it.each(snippets.map((s) => [`${s.file}:${s.line}${s.partial ? ' (partial)' : ''}`, s] as const))('%s', async (_, snippet) => {
    expect(await checkSnippet(snippet, inputsOf)).toEqual([]);
  });
});

describe('the snippet checks catch what they are for', () => {
  const planted = (text: string, lead = 'Use it like this:'): Snippet => extractSnippets('planted.md', `${lead}\n\n\`\`\`yaml\n${text}\n\`\`\`\n`)[0] as Snippet;

  it('a block that is not valid YAML', async () => {
    const problems = await checkSnippet(planted('- uses: OWNER/gangway/action-vpn-connect@v1\n  with: { config: ${{ secrets.VPN_CONFIG }} }'), inputsOf);
    expect(problems.join('\n')).toMatch(/planted\.md:3: not valid YAML/);
  });

  it('an input the action does not declare, and a required one left out', async () => {
    const problems = await checkSnippet(planted('- uses: OWNER/gangway/action-smoke-test@v1\n  with:\n    url: http://198.19.0.1:8080\n    expect-versoin: abc\n- uses: OWNER/gangway/action-notify@v1\n  with:\n    webhook-url: https://chat.example.com/hook'), inputsOf);
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/action-smoke-test has no input "expect-versoin"/), expect.stringMatching(/action-notify needs "status"/)]));
  });

  it('a smoke-test checks list its own parser refuses', async () => {
    const problems = await checkSnippet(planted('- uses: OWNER/gangway/action-smoke-test@v1\n  with:\n    url: http://198.19.0.1:8080\n    checks: |\n      - path: /readyz\n        statuz: 200'), inputsOf);
    expect(problems.join('\n')).toMatch(/input "checks": .*statuz/);
  });

  it('what actionlint finds: a job with no runs-on, an unknown context', async () => {
    const problems = await checkSnippet(planted('jobs:\n  deploy:\n    steps:\n      - run: echo ${{ github.nope }}'), inputsOf);
    expect(problems.join('\n')).toMatch(/runs-on/);
    expect(problems.join('\n')).toMatch(/nope/);
  });

  it('a block the sentence before calls an excerpt is checked for what it shows only', async () => {
    const excerpt = planted('- uses: OWNER/gangway/action-deploy-ssh@v1\n  with:\n    environment: production', 'An excerpt of the deploy step:');
    expect(excerpt.partial).toBe(true);
    expect(await checkSnippet(excerpt, inputsOf)).toEqual([]);
    const unknown = planted('- uses: OWNER/gangway/action-deploy-ssh@v1\n  with:\n    enviroment: production', 'An excerpt of the deploy step:');
    expect((await checkSnippet(unknown, inputsOf)).join('\n')).toMatch(/no input "enviroment"/);
    expect((await checkSnippet(planted('- uses: OWNER/gangway/action-deploy-ssh@v1\n  with:\n    environment: production'), inputsOf)).join('\n')).toMatch(/action-deploy-ssh needs "host"/);
  });
});
