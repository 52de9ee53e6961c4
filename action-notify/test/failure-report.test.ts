import { describe, expect, it } from 'vitest';
import { bounded, codeSpan, failureDetails, issueBody, issueMarker, markdownText, recoveryComment, repeatComment, webhookText, type ReportInput } from '../src/failure-report.ts';
import { cleanLogLine, logTail } from '../src/run-facts.ts';
import type { RunContext } from '../src/run-context.ts';

const run: RunContext = {
  repository: 'acme/shop', owner: 'acme', repo: 'shop', workflow: 'Deploy', job: 'notify', runId: 9, runAttempt: 1, runNumber: 3,
  sha: 'abcdef0123456789', branch: 'main', actor: 'mona', eventName: 'push', serverUrl: 'https://github.com',
  runUrl: 'https://github.com/acme/shop/actions/runs/9', commitAuthor: undefined,
};
const input = (tail: string[], problems: string[] = []): ReportInput => ({
  status: 'failure',
  run,
  facts: { failedJobs: [{ id: 1, name: 'deploy | prod', conclusion: 'failure', url: 'https://github.com/j/1', steps: [{ number: 4, name: 'Deploy', conclusion: 'failure' }], logTail: tail }], jobCounts: {}, problems, listed: true },
});

describe('failure report', () => {
  it('keys the marker by workflow and branch, encoded so it cannot end the comment', () => {
    expect(issueMarker('Deploy --> x', 'feat/a b')).toBe('<!-- gangway-notify workflow=Deploy%20--%3E%20x branch=feat%2Fa%20b -->');
  });

  it('quotes logs in a fence no log line can close, and escapes table cells', () => {
    const text = failureDetails(input(['```', 'boom ````']));
    expect(text).toContain('| [deploy \\| prod](https://github.com/j/1) | failure | 4. Deploy |');
    expect(text).toContain('`````text\n```\nboom ````\n`````');
  });

  it('stays under GitHub\'s size limit without leaving a block open', () => {
    const body = issueBody(input(Array.from({ length: 500 }, () => 'x'.repeat(300))), 'gangway-failure');
    const cut = bounded(body, 5000);
    expect(cut.length).toBeLessThanOrEqual(5000);
    expect(cut.startsWith(issueMarker('Deploy', 'main'))).toBe(true);
    expect(cut).not.toContain('<details>');
    expect(cut).toMatch(/cut to fit GitHub's size limit/);
  });

  it('says why job details are missing', () => {
    const facts = { listed: false, failedJobs: [], jobCounts: {}, problems: ['Could not list the jobs (HTTP 403).'] };
    expect(failureDetails({ status: 'failure', run, facts })).toContain('_Job details unavailable: Could not list the jobs \\(HTTP 403\\).\n_'.replace('\n', ''));
    expect(failureDetails({ status: 'failure', run, facts })).not.toContain('No failed job');
    // Only a listing that worked may say that nothing failed.
    expect(failureDetails({ status: 'failure', run, facts: { listed: true, failedJobs: [], jobCounts: { success: 2 }, problems: [] } })).toContain('_No failed job was reported by the Actions API._');
  });

  it('writes Slack mrkdwn with escaped text', () => {
    expect(webhookText({ ...input([]), run: { ...run, workflow: 'A<b>&' } }, undefined, false)).toMatch(/^:x: \*A&lt;b&gt;&amp;\* failed on `main`/);
  });
});

/** The Markdown outside code spans (a span closes only at a backtick run of its own length). */
const outsideCode = (markdown: string): string => markdown.replace(/(?<!`)(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, ' CODE ');

describe('names in the issue are text, never Markdown or HTML', () => {
  const branch = 'x`](http://evil.test/a)<img src=x onerror=alert(1)>`y';
  const job = 'deploy](http://evil.test/b) <img src=x> **bold** @acme/admins #1 www.evil.test';
  const nasty: ReportInput = {
    status: 'failure',
    run: { ...run, branch, workflow: 'Deploy [x](http://evil.test/c)' },
    facts: { listed: true, failedJobs: [{ id: 1, name: job, conclusion: 'failure', url: 'https://github.com/j/1', steps: [{ number: 2, name: 'step](http://evil.test/d)', conclusion: 'failure' }], logTail: ['a line'] }], jobCounts: {}, problems: [] },
  };

  it('puts the branch in a code span it cannot close', () => {
    expect(codeSpan('main')).toBe('`main`');
    expect(codeSpan(branch)).toBe('``x`](http://evil.test/a)<img src=x onerror=alert(1)>`y``');
    expect(codeSpan('`a`')).toBe('`` `a` ``');
    for (const text of [issueBody(nasty, 'gangway-failure'), repeatComment(nasty, 1), recoveryComment(nasty.run)]) {
      expect(text).toContain(codeSpan(branch));
      const outside = outsideCode(text);
      expect(outside).not.toContain('evil.test/a');
      expect(outside).not.toMatch(/(?<!\\)<img/);
    }
  });

  it('escapes job, step and workflow names: no link, image, HTML, emphasis, mention or autolink', () => {
    expect(markdownText(job)).toBe('deploy\\]\\(http\\://evil.test/b\\) \\<img src=x\\> \\*\\*bold\\*\\* \\@acme/admins \\#1 www\\.evil.test');
    const body = issueBody(nasty, 'gangway-failure');
    expect(body).toContain(`| [${markdownText(job)}](https://github.com/j/1) | failure | 2. step\\]\\(http\\://evil.test/d\\) |`);
    expect(body).toContain('**Deploy \\[x\\]\\(http\\://evil.test/c\\)** failed on');
    // Inside <details> the summary is HTML: escaped as HTML.
    expect(body).toContain('<summary>deploy](http://evil.test/b) &lt;img src=x&gt; **bold** @acme/admins #1 www.evil.test: last 1 log lines</summary>');
    // What is not HTML (the summary line is an HTML block) and not code.
    const outside = outsideCode(body).replace(/<summary>.*<\/summary>/g, '');
    expect(outside).not.toMatch(/(?<!\\)<img/);
    expect(outside).not.toMatch(/(?<!\\)\]\((?!https:\/\/github\.com\/)/);
  });
});

describe('log lines', () => {
  it('lose timestamps, colours and their length past 300 characters', () => {
    expect(cleanLogLine('2026-11-22T09:00:02.1234567Z \u001b[31mred\u001b[0m')).toBe('red');
    expect(cleanLogLine('y'.repeat(400))).toBe('y'.repeat(300) + '…');
    expect(logTail('a\nb\nc\n\n\n', 2)).toEqual(['b', 'c']);
  });
});
