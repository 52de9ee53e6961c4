import { ConfigurationError, Inputs, registerSecret } from '@gangway/kit';
import { readEventPayload, readRunContext } from '@gangway/kit/github';
import { reportedRun, type RunContext } from './run-context.ts';

export type RunStatus = 'success' | 'failure' | 'cancelled' | 'skipped';

export interface SmtpSettings {
  /** The URL as given (a secret). */
  url: string;
  host: string;
  from: string;
  to: MailRecipient[];
}

/** An address, or the head commit's author, known only once the run's facts are read. */
export type MailRecipient = { address: string } | { committer: true };

/** Everything the action does, read from its inputs and validated before any side effect. */
export interface NotifySettings {
  status: RunStatus;
  /** How the status was decided (for the report): the input, or the needs results. */
  statusSource: string;
  githubToken: string | undefined;
  /** Without a trailing slash. */
  apiUrl: string;
  issue: boolean;
  label: string;
  title: string;
  branch: string;
  logLines: number;
  webhookUrl: string | undefined;
  /** http:// webhooks were allowed explicitly (the message and the URL's secret path travel in clear text). */
  allowInsecureWebhook: boolean;
  smtp: SmtpSettings | undefined;
  run: RunContext;
}

const STATUSES: readonly RunStatus[] = ['success', 'failure', 'cancelled', 'skipped'];
const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;

/**
 * One plain mail address (`someone@example.com`): no list, no display name, no comment. Every
 * address the mail goes to passes this, the committer's from the event too: `a@x.com,b@y.com`
 * would otherwise be two recipients of the log tails.
 */
export function isMailAddress(value: string): boolean {
  return EMAIL.test(value);
}

/**
 * `success`/`failure`/`cancelled`/`skipped`, or `toJSON(needs)`: any failed need makes
 * the run a failure, else any cancelled one a cancellation, else all skipped is skipped.
 */
export function parseStatus(raw: string): { status: RunStatus; source: string } {
  const value = raw.trim();
  if (value.startsWith('{')) {
    let needs: unknown;
    try {
      needs = JSON.parse(value);
    } catch {
      throw new ConfigurationError('Input "status" looks like JSON but does not parse. Pass ${{ toJSON(needs) }} or a job status (success, failure, cancelled).', 'status');
    }
    const results = Object.entries(needs as Record<string, { result?: unknown }>).map(([job, n]) => [job, typeof n?.result === 'string' ? n.result : ''] as const);
    if (results.length === 0) throw new ConfigurationError('Input "status" is an empty needs object: the notify job must have needs: to report on.', 'status');
    for (const [job, result] of results) {
      if (!STATUSES.includes(result as RunStatus)) throw new ConfigurationError(`Input "status": needs.${job}.result is "${result}", not one of ${STATUSES.join(', ')}.`, 'status');
    }
    const failed = results.filter(([, r]) => r === 'failure').map(([j]) => j);
    const cancelled = results.filter(([, r]) => r === 'cancelled').map(([j]) => j);
    if (failed.length > 0) return { status: 'failure', source: `needs: ${failed.join(', ')} failed` };
    if (cancelled.length > 0) return { status: 'cancelled', source: `needs: ${cancelled.join(', ')} cancelled` };
    if (results.every(([, r]) => r === 'skipped')) return { status: 'skipped', source: 'needs: all skipped' };
    return { status: 'success', source: `needs: ${results.map(([j]) => j).join(', ')} succeeded` };
  }
  const lower = value.toLowerCase();
  if (!STATUSES.includes(lower as RunStatus)) {
    throw new ConfigurationError(`Input "status" is "${value}": use success, failure, cancelled or skipped (\${{ job.status }}), or \${{ toJSON(needs) }}.`, 'status');
  }
  return { status: lower as RunStatus, source: 'status input' };
}

function httpUrl(raw: string, name: string, hint: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigurationError(`Input "${name}" is not a URL. ${hint}`, name);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigurationError(`Input "${name}" must be an http(s) URL, not ${url.protocol}. ${hint}`, name);
  return url;
}

function readSmtp(inputs: Inputs): SmtpSettings | undefined {
  const raw = inputs.secret('smtp-url');
  const to = inputs.list('mail-to', { commas: true });
  if (raw === undefined) {
    if (to.length > 0) throw new ConfigurationError('Input "mail-to" is set but "smtp-url" is not: give smtp-url (smtp://user:password@host:587) from a secret, or drop mail-to.', 'mail-to');
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The message must not quote the value: it is a secret.
    throw new ConfigurationError('Input "smtp-url" is not a URL: use smtp://user:password@host:587 or smtps://user:password@host:465 (user and password percent-encoded).', 'smtp-url');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new ConfigurationError(`Input "smtp-url" must start with smtp:// or smtps://, not ${url.protocol}//.`, 'smtp-url');
  if (url.hostname === '') throw new ConfigurationError('Input "smtp-url" names no host.', 'smtp-url');
  const user = decodeURIComponent(url.username);
  if (url.password !== '') {
    registerSecret(url.password);
    registerSecret(decodeURIComponent(url.password));
  }
  if (to.length === 0) throw new ConfigurationError('Input "smtp-url" is set but "mail-to" is empty: list recipients, or the word committer.', 'mail-to');
  const recipients: MailRecipient[] = to.map((entry) => {
    if (entry.toLowerCase() === 'committer') return { committer: true };
    if (!EMAIL.test(entry)) throw new ConfigurationError(`Input "mail-to": "${entry}" is not an e-mail address (or the word committer).`, 'mail-to');
    return { address: entry };
  });
  const fromInput = inputs.string('mail-from');
  const from = fromInput ?? (EMAIL.test(user) ? user : `gangway@${url.hostname}`);
  if (!EMAIL.test(from.replace(/^.*<([^>]+)>\s*$/, '$1'))) throw new ConfigurationError(`Input "mail-from": "${from}" is not an e-mail address.`, 'mail-from');
  return { url: raw, host: url.hostname, from, to: recipients };
}

export function readSettings(inputs: Inputs = new Inputs(), env: NodeJS.ProcessEnv = process.env): NotifySettings {
  const token = inputs.secret('github-token');
  const webhook = inputs.secret('webhook-url');
  const { status, source } = parseStatus(inputs.string('status', { required: true, hint: 'Pass ${{ job.status }} in a step, or ${{ toJSON(needs) }} in a job that needs the others.' }));
  const github = readRunContext(env);
  const apiUrl = httpUrl(inputs.string('api-url') ?? github.apiUrl, 'api-url', 'Leave it empty for GITHUB_API_URL.');
  const issue = inputs.boolean('issue', true);
  const label = inputs.string('label') ?? 'gangway-failure';
  if (label.length > 50 || label.includes(',')) throw new ConfigurationError(`Input "label": "${label}" must be at most 50 characters without commas (a GitHub label name).`, 'label');
  if (issue && token === undefined) throw new ConfigurationError('Input "github-token" is empty: leave it at its default ${{ github.token }} (with permissions issues: write, actions: read), or set issue: false.', 'github-token');
  const allowInsecureWebhook = inputs.boolean('allow-insecure-webhook', false);
  if (webhook !== undefined) {
    const url = httpUrl(webhook, 'webhook-url', 'Use the incoming webhook URL your chat gives you (https://hooks.slack.com/services/…).');
    if (url.protocol === 'http:' && !allowInsecureWebhook) {
      // The URL is a secret: the message names its scheme only.
      throw new ConfigurationError(
        'Input "webhook-url" is an http:// URL: the message and the secret in the URL would travel unencrypted. Use the https:// URL your chat gives you, or set allow-insecure-webhook: true for a receiver on a network you trust.',
        'webhook-url',
      );
    }
  }
  const run = reportedRun(github, readEventPayload(env));
  const branch = inputs.string('branch') ?? run.branch;
  if (branch === '') throw new ConfigurationError('Input "branch" is empty and the run has no GITHUB_REF_NAME: set branch.', 'branch');
  const title = inputs.string('title') ?? `${run.workflow} failing on ${branch}`;
  if (title.length > 256) throw new ConfigurationError('Input "title" is longer than 256 characters.', 'title');
  return {
    status,
    statusSource: source,
    githubToken: token,
    apiUrl: apiUrl.toString().replace(/\/$/, ''),
    issue,
    label,
    title,
    branch,
    logLines: inputs.integer('log-lines', { min: 0, max: 500 }) ?? 30,
    webhookUrl: webhook,
    allowInsecureWebhook,
    smtp: readSmtp(inputs),
    run: { ...run, branch },
  };
}
