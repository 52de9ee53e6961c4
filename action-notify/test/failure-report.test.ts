import { describe, expect, it } from 'vitest';
import { bounded, failureDetails, issueBody, issueMarker, webhookText, type ReportInput } from '../src/failure-report.ts';
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
  facts: { failedJobs: [{ id: 1, name: 'deploy | prod', conclusion: 'failure', url: 'https://github.com/j/1', steps: [{ number: 4, name: 'Deploy', conclusion: 'failure' }], logTail: tail }], jobCounts: {}, problems },
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
    const facts = { failedJobs: [], jobCounts: {}, problems: ['Could not list the jobs (HTTP 403).'] };
    expect(failureDetails({ status: 'failure', run, facts })).toContain('_Job details unavailable: Could not list the jobs (HTTP 403)._');
  });

  it('writes Slack mrkdwn with escaped text', () => {
    expect(webhookText({ ...input([]), run: { ...run, workflow: 'A<b>&' } }, undefined, false)).toMatch(/^:x: \*A&lt;b&gt;&amp;\* failed on `main`/);
  });
});

describe('log lines', () => {
  it('lose timestamps, colours and their length past 300 characters', () => {
    expect(cleanLogLine('2026-11-22T09:00:02.1234567Z \u001b[31mred\u001b[0m')).toBe('red');
    expect(cleanLogLine('y'.repeat(400))).toBe('y'.repeat(300) + '…');
    expect(logTail('a\nb\nc\n\n\n', 2)).toEqual(['b', 'c']);
  });
});
