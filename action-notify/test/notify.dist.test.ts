// action-notify's dist bundle on a simulated runner (RunnerJob), talking to a local GitHub
// API that checks every request and response against GitHub's OpenAPI description, a local
// webhook receiver and a local SMTP server. Nothing leaves 127.0.0.1.
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { findSecretLeaks, RunnerJob, type ActionRun, type GitHubContext } from '@gangway/harness';
import { startGitHubApi, type GitHubApiServer } from '../../test/support/github-api/index.ts';
import { createTestTls, startMailSink, startWebhookReceiver, type MailSink, type TestTls, type WebhookReceiver } from './local-services.ts';

const actionDir = path.resolve(import.meta.dirname, '..');
const token = 'ghs_' + 'N0t1fyT0ken'.repeat(3) + 'abc';
const smtpPassword = 'p@ss w0rd/with:specials';
const LOG = [
  '2026-11-22T09:00:00.0000000Z ##[group]Run ./action-deploy-ssh',
  '2026-11-22T09:00:01.0000000Z Connecting to 198.19.0.1:22',
  ...Array.from({ length: 40 }, (_, i) => `2026-11-22T09:00:02.0000000Z \u001b[36mstep ${i}\u001b[0m`),
  '2026-11-22T09:00:03.0000000Z ##[error]Readiness failed: GET /readyz answered 503 for 60s',
  '',
].join('\n');

let github: GitHubApiServer;
let tls: TestTls;
let webhook: WebhookReceiver;
let smtp: MailSink;
let runId = 5000;
const jobs: RunnerJob[] = [];

beforeAll(async () => {
  // The webhook receiver speaks https and the mail server STARTTLS, with certificates from a
  // test CA the step trusts through NODE_EXTRA_CA_CERTS (see failedRun).
  tls = createTestTls();
  [github, webhook, smtp] = await Promise.all([startGitHubApi({ repository: 'acme/shop', token }), startWebhookReceiver({ tls }), startMailSink('ci@acme.test', smtpPassword, { tls })]);
});
afterAll(async () => {
  await Promise.all([github.close(), webhook.close(), smtp.close()]);
  tls.remove();
});
beforeEach(() => {
  webhook.messages.length = 0;
  smtp.mails.length = 0;
});
afterEach(() => {
  for (const j of jobs.splice(0)) j.cleanup();
  github.assertConforming();
});

const secrets = (): Record<string, string> => ({ token, 'webhook-url': webhook.url, 'smtp-url': smtp.url('ci@acme.test', smtpPassword), 'smtp password': smtpPassword });

/** A failed Deploy run on the server, and the runner job of its notify step. */
function failedRun(options: { branch?: string; conclusion?: 'failure' | 'success' | 'cancelled'; github?: Partial<GitHubContext>; jobName?: string } = {}): RunnerJob {
  const id = ++runId;
  const branch = options.branch ?? 'main';
  const failed = (options.conclusion ?? 'failure') !== 'success';
  github.addWorkflowRun({
    id,
    name: 'Deploy',
    headBranch: branch,
    conclusion: options.conclusion ?? 'failure',
    jobs: [
      { name: 'build', conclusion: 'success', steps: [{ name: 'Build image', conclusion: 'success' }] },
      {
        name: options.jobName ?? 'deploy',
        conclusion: failed ? 'failure' : 'success',
        steps: [
          { name: 'Connect VPN', conclusion: 'success' },
          { name: 'Deploy', conclusion: failed ? 'failure' : 'success' },
          { name: 'Smoke test', conclusion: failed ? 'skipped' : 'success' },
        ],
        log: LOG,
      },
      { name: 'notify', conclusion: null, steps: [{ name: 'Notify', conclusion: null }] },
    ],
  });
  const job = new RunnerJob({
    env: { NODE_EXTRA_CA_CERTS: tls.caFile },
    github: {
      repository: 'acme/shop',
      workflow: 'Deploy',
      job: 'notify',
      runId: String(id),
      runNumber: String(id - 4000),
      ref: `refs/heads/${branch}`,
      apiUrl: github.url,
      token,
      actor: 'mona',
      event: { head_commit: { id: 'abc', author: { name: 'Mona Lisa', email: 'mona@acme.test' } } },
      ...options.github,
    },
  });
  jobs.push(job);
  return job;
}

function expectNoLeaks(run: ActionRun): void {
  expect(findSecretLeaks(run, secrets())).toEqual([]);
}

const openFailureIssues = (): Array<Record<string, unknown>> => [...github.issues.values()].filter((i) => i.state === 'open' && (i.labels as Array<{ name: string }>).some((l) => l.name === 'gangway-failure'));

describe('action-notify dist on the runner', () => {
  it('opens one issue on a failure, comments on a repeat and closes it on success', async () => {
    const first = await failedRun().main(actionDir, { inputs: { status: 'failure', 'webhook-url': webhook.url, 'smtp-url': smtp.url('ci@acme.test', smtpPassword), 'mail-to': 'committer, ops@acme.test' } });
    expect(first.ok, first.log).toBe(true);
    expect(first.outputs.action).toBe('opened');
    const number = Number(first.outputs['issue-number']);
    const issue = github.issues.get(number);
    expect(issue).toMatchObject({ title: 'Deploy failing on main', state: 'open', labels: [{ name: 'gangway-failure' }] });
    const body = issue?.body as string;
    expect(body).toContain('<!-- gangway-notify workflow=Deploy branch=main -->');
    expect(body).toMatch(/\| \[deploy\]\(https:\/\/github\.com\/acme\/shop\/actions\/runs\/\d+\/job\/\d+\) \| failure \| 2\. Deploy \|/);
    expect(body).not.toContain('[build]');
    expect(body).toContain('Readiness failed: GET /readyz answered 503');
    expect(body).toContain('deploy: last 30 log lines');
    expect(body).not.toContain('\u001b');
    expect(body).not.toContain('2026-11-22T09');
    expect(body).not.toContain('Connecting to 198.19.0.1');
    const report = JSON.parse(first.outputs.report ?? '{}') as { failedJobs: Array<{ name: string; steps: string[] }>; webhook: string; mail: string };
    expect(report.failedJobs).toEqual([expect.objectContaining({ name: 'deploy', steps: ['Deploy'] })]);
    expect(webhook.messages).toHaveLength(1);
    expect(webhook.messages[0]?.text).toMatch(/^:x: \*Deploy\* failed on `main` \(acme\/shop\): <https:\/\/github\.com\/acme\/shop\/actions\/runs\/\d+\|run #\d+>/);
    expect(webhook.messages[0]?.text).toContain('Failed: deploy (Deploy)');
    expect(webhook.messages[0]?.text).toContain(`Issue: <https://github.com/acme/shop/issues/${number}>`);
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]).toMatchObject({ from: 'ci@acme.test', to: ['mona@acme.test', 'ops@acme.test'], user: 'ci@acme.test', secure: true });
    expect(smtp.mails[0]?.raw).toMatch(/Subject: \[acme\/shop\] Deploy failed on main \(run #\d+\)/);
    expect(smtp.mails[0]?.raw).toContain('Readiness failed');
    expect(first.summary).toContain('Gangway notify');
    expectNoLeaks(first);
    // The run of the notify job itself, still in progress, is not reported as failed.
    expect(body).not.toContain('[notify]');

    const second = await failedRun().main(actionDir, { inputs: { status: 'failure' } });
    expect(second.ok, second.log).toBe(true);
    expect(second.outputs).toMatchObject({ action: 'commented', 'issue-number': String(number) });
    expect(openFailureIssues()).toHaveLength(1);
    expect(github.comments.get(number)?.at(-1)?.body).toMatch(/^Failed again \(2 failed runs so far\)\./);
    expectNoLeaks(second);

    const fixed = await failedRun({ conclusion: 'success' }).main(actionDir, { inputs: { status: 'success', 'webhook-url': webhook.url, 'smtp-url': smtp.url('ci@acme.test', smtpPassword), 'mail-to': 'committer' } });
    expect(fixed.ok, fixed.log).toBe(true);
    expect(fixed.outputs).toMatchObject({ action: 'closed', 'issue-number': String(number) });
    expect(github.issues.get(number)).toMatchObject({ state: 'closed', state_reason: 'completed' });
    expect(github.comments.get(number)?.at(-1)?.body).toMatch(/^\*\*Deploy\*\* succeeded on `main` again/);
    expect(webhook.messages.at(-1)?.text).toMatch(/^:white_check_mark: \*Deploy\* recovered on `main`/);
    expect(smtp.mails).toHaveLength(1); // no mail on success
    expect(openFailureIssues()).toHaveLength(0);
    expectNoLeaks(fixed);

    // The operations used, all checked against the description by the server.
    // (The log download's redirect target is the blob store, not an API operation.)
    const used = new Set(github.requests.filter((r) => !r.url.startsWith('/_gangway/')).map((r) => r.operationId));
    expect([...used].sort()).toEqual(
      ['actions/download-job-logs-for-workflow-run', 'actions/list-jobs-for-workflow-run-attempt', 'issues/create', 'issues/create-comment', 'issues/list-for-repo', 'issues/update'].sort(),
    );
    expect(github.requests.every((r) => r.auth === '<token>')).toBe(true);
  });

  it('keeps one issue per workflow and branch, and does nothing on a success without one', async () => {
    const other = await failedRun({ branch: 'release/2' }).main(actionDir, { inputs: { status: 'failure', 'log-lines': 0 } });
    expect(other.outputs.action).toBe('opened');
    const issue = github.issues.get(Number(other.outputs['issue-number']));
    expect(issue?.title).toBe('Deploy failing on release/2');
    expect(github.calls('actions/download-job-logs-for-workflow-run').filter((c) => c.url.includes(String(runId)))).toHaveLength(0);
    const quiet = await failedRun({ branch: 'feature', conclusion: 'success' }).main(actionDir, { inputs: { status: 'success' } });
    expect(quiet.ok).toBe(true);
    expect(quiet.outputs).toMatchObject({ action: 'none', 'issue-number': '' });
  });

  it('reads the worst result from the needs context', async () => {
    const needs = JSON.stringify({ build: { result: 'success', outputs: {} }, deploy: { result: 'cancelled', outputs: {} } });
    const run = await failedRun({ branch: 'needs', conclusion: 'cancelled' }).main(actionDir, { inputs: { status: needs } });
    expect(run.ok, run.log).toBe(true);
    expect(run.outputs.action).toBe('opened');
    expect(github.issues.get(Number(run.outputs['issue-number']))?.body as string).toContain('**Deploy** was cancelled on `needs`');
  });

  it('only warns when GitHub, the webhook or the mail server fail', async () => {
    github.failNext('issues/list-for-repo', 403, { message: 'Resource not accessible by integration' });
    github.failNext('actions/list-jobs-for-workflow-run-attempt', 500, { message: 'Server Error' });
    webhook.failNext(500, 3);
    const run = await failedRun({ branch: 'trouble' }).main(actionDir, {
      inputs: { status: 'failure', 'webhook-url': webhook.url, 'smtp-url': smtp.url('ci@acme.test', 'wrong password'), 'mail-to': 'ops@acme.test' },
    });
    expect(run.ok, run.log).toBe(true);
    expect(run.outputs.action).toBe('none');
    const warnings = run.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
    expect(warnings).toEqual([
      // A server error is no permission problem.
      'Could not list the jobs of the run (HTTP 500: Server Error).',
      expect.stringMatching(/Could not update the failure issue \(HTTP 403: Resource not accessible by integration\); the workflow needs permissions issues: write\./),
      'Webhook not delivered: webhook answered HTTP 500: server_error.',
      expect.stringMatching(/^Mail not sent via 127\.0\.0\.1: mail not sent: EAUTH 535/),
    ]);
    expect(run.annotations.some((a) => a.level === 'error')).toBe(false);
    expect(findSecretLeaks(run, { ...secrets(), 'smtp-url': smtp.url('ci@acme.test', 'wrong password'), 'wrong password': 'wrong password' })).toEqual([]);
  }, 30_000);

  it('says a GitHub API it cannot reach is unreachable: not HTTP 500, not permissions, not "no failed job"', async () => {
    // A port nothing listens on: taken, then given back.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closed = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((resolve) => probe.close(resolve));
    const run = await failedRun({ branch: 'offline' }).main(actionDir, { inputs: { status: 'failure', 'api-url': closed, 'webhook-url': webhook.url } });
    expect(run.ok, run.log).toBe(true);
    const warnings = run.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
    expect(warnings).toEqual([
      `Could not list the jobs of the run (could not reach the GitHub API at ${closed}: connection refused (ECONNREFUSED)); check that the runner can reach it (api-url, proxy, network).`,
      `Could not update the failure issue (could not reach the GitHub API at ${closed}: connection refused (ECONNREFUSED)); check that the runner can reach it (api-url, proxy, network).`,
    ]);
    expect(run.log).not.toMatch(/permissions|HTTP 500|lists no failed job/);
    expect(run.log).toContain('The failed jobs are unknown: the jobs of the run could not be listed.');
    // The webhook still goes out.
    expect(webhook.messages.at(-1)?.text).toMatch(/^:x: \*Deploy\* failed on `offline`/);
  }, 30_000);

  it('escapes branch and job names in the issue: no injected link, image or HTML', async () => {
    const branch = 'x`](http://evil.test/a)<img-src=x>';
    const jobName = 'deploy](http://evil.test/b) <img src=x onerror=alert(1)> @acme/admins';
    const run = await failedRun({ branch, jobName }).main(actionDir, { inputs: { status: 'failure' } });
    expect(run.ok, run.log).toBe(true);
    const number = Number(run.outputs['issue-number']);
    const body = github.issues.get(number)?.body as string;
    expect(body).toContain('**Deploy** failed on ``x`](http://evil.test/a)<img-src=x>``: [run #');
    expect(body).toMatch(/\| \[deploy\\\]\\\(http\\:\/\/evil\.test\/b\\\) \\<img src=x onerror=alert\\\(1\\\)\\> \\@acme\/admins\]\(https:\/\/github\.com\/acme\/shop\/actions\/runs\/\d+\/job\/\d+\) \| failure \| 2\. Deploy \|/);
    expect(body).toContain('<summary>deploy](http://evil.test/b) &lt;img src=x onerror=alert(1)&gt; @acme/admins: last 30 log lines</summary>');
    // Outside code spans and the HTML summary line, nothing unescaped can open a link or a tag.
    const outside = body.replace(/(?<!`)(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, ' CODE ').replace(/<summary>.*<\/summary>/g, '');
    expect(outside).not.toMatch(/(?<!\\)<img/);
    expect(outside).not.toMatch(/(?<!\\)\]\((?!https:\/\/github\.com\/)/);
    const fixed = await failedRun({ branch, conclusion: 'success' }).main(actionDir, { inputs: { status: 'success' } });
    expect(fixed.outputs.action).toBe('closed');
    expect(github.comments.get(number)?.at(-1)?.body).toMatch(/^\*\*Deploy\*\* succeeded on ``x`\]\(http:\/\/evil\.test\/a\)<img-src=x>`` again/);
  });

  it('mails no one but the committer when the event\'s address is a list', async () => {
    const run = await failedRun({ branch: 'listed', github: { event: { head_commit: { id: 'abc', author: { name: 'Mallory', email: 'mona@acme.test,eve@evil.test' } } } } }).main(actionDir, {
      inputs: { status: 'failure', issue: 'false', 'smtp-url': smtp.url('ci@acme.test', smtpPassword), 'mail-to': 'committer, ops@acme.test' },
    });
    expect(run.ok, run.log).toBe(true);
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]?.to).toEqual(['ops@acme.test']);
    expect(run.annotations.filter((a) => a.level === 'warning').map((a) => a.message)).toEqual([
      'mail-to: the committer\'s address in the event, "mona@acme.test,eve@evil.test", is not one mail address; no mail to it.',
    ]);
  });

  it('sends neither password nor mail to an smtp:// server that offers no STARTTLS', async () => {
    const plain = await startMailSink('ci@acme.test', smtpPassword);
    try {
      const run = await failedRun({ branch: 'cleartext' }).main(actionDir, { inputs: { status: 'failure', issue: 'false', 'smtp-url': plain.url('ci@acme.test', smtpPassword), 'mail-to': 'ops@acme.test' } });
      expect(run.ok, run.log).toBe(true);
      expect(plain.logins).toEqual([]);
      expect(plain.mails).toEqual([]);
      const warnings = run.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
      expect(warnings).toEqual([expect.stringMatching(/^Mail not sent via 127\.0\.0\.1: mail not sent: ETLS: 127\.0\.0\.1 offers no STARTTLS, and smtp:\/\/ requires it \(nothing was sent in clear text\)/)]);
      expect(findSecretLeaks(run, { ...secrets(), 'smtp-url': plain.url('ci@acme.test', smtpPassword) })).toEqual([]);
    } finally {
      await plain.close();
    }
  });

  it('refuses an http:// webhook unless allow-insecure-webhook is true, and then warns', async () => {
    const plain = await startWebhookReceiver();
    try {
      const refused = await failedRun({ branch: 'plain-hook' }).main(actionDir, { inputs: { status: 'failure', 'webhook-url': plain.url } });
      expect(refused.exitCode).toBe(1);
      expect(refused.annotations.find((a) => a.level === 'error')?.message).toBe(
        'Input "webhook-url" is an http:// URL: the message and the secret in the URL would travel unencrypted. Use the https:// URL your chat gives you, or set allow-insecure-webhook: true for a receiver on a network you trust.',
      );
      expect(plain.messages).toEqual([]);
      expect(findSecretLeaks(refused, { 'webhook-url': plain.url })).toEqual([]);

      const allowed = await failedRun({ branch: 'plain-hook' }).main(actionDir, { inputs: { status: 'failure', issue: 'false', 'webhook-url': plain.url, 'allow-insecure-webhook': 'true' } });
      expect(allowed.ok, allowed.log).toBe(true);
      expect(plain.messages).toHaveLength(1);
      expect(allowed.annotations.filter((a) => a.level === 'warning').map((a) => a.message)).toEqual(['webhook-url is http:// (allow-insecure-webhook: true): the message and the secret in the URL travel unencrypted.']);
      expect(findSecretLeaks(allowed, { 'webhook-url': plain.url })).toEqual([]);
    } finally {
      await plain.close();
    }
  });

  it('fails on a configuration mistake before any request, naming the input', async () => {
    const before = github.requests.length;
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ status: 'broken' }, /Input "status" is "broken": use success, failure, cancelled or skipped/],
      [{ status: 'failure', 'webhook-url': 'not a url' }, /Input "webhook-url" is not a URL/],
      [{ status: 'failure', 'mail-to': 'ops@acme.test' }, /Input "mail-to" is set but "smtp-url" is not/],
      [{ status: 'failure', 'smtp-url': 'http://x:secretpw@mail.acme.test', 'mail-to': 'ops@acme.test' }, /Input "smtp-url" must start with smtp:\/\/ or smtps:\/\//],
      [{ status: 'failure', 'log-lines': '9999' }, /Input "log-lines" is 9999, out of range/],
      [{ status: '{"build": {"result": "exploded"}}' }, /needs\.build\.result is "exploded"/],
    ];
    for (const [inputs, message] of cases) {
      const run = await failedRun().main(actionDir, { inputs });
      expect(run.exitCode, JSON.stringify(inputs)).toBe(1);
      expect(run.annotations.find((a) => a.level === 'error')?.message).toMatch(message);
      expect(run.log).not.toContain('secretpw');
    }
    expect(github.requests.length).toBe(before);
  }, 60_000);
});
