// A local stand-in for api.github.com on 127.0.0.1 that holds every request to GitHub's
// published OpenAPI description: the method and path must be an operation, path and query
// parameters and the JSON body must validate against it, and every response it sends is
// built from the description's examples and validated against the operation's response
// schema before it leaves. What does not conform is answered as GitHub would (404, 422)
// and recorded in `violations`, which a test asserts empty.
//
// It keeps state for what Gangway uses: issues (with labels and comments), workflow runs
// with their jobs and job logs, deployments and deployment statuses.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadGitHubApiDescription, type GitHubApiDescription, type Json, type JsonObject, type MatchedRequest } from './description.ts';

export interface LoggedRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  /** The operation of GitHub's description (issues/create …); undefined when none matched. */
  operationId: string | undefined;
  params: Record<string, string | number>;
  query: Record<string, string | number | boolean>;
  body: unknown;
  status: number;
  /** The Authorization header with the token replaced by `<token>` or `<other token>`. */
  auth: string;
}

export interface StepSeed {
  name: string;
  /** success, failure, cancelled, skipped; or null while in progress. */
  conclusion: 'success' | 'failure' | 'cancelled' | 'skipped' | null;
}

export interface JobSeed {
  name: string;
  conclusion: 'success' | 'failure' | 'cancelled' | 'skipped' | 'timed_out' | null;
  steps?: StepSeed[];
  /** The job's log as the API serves it (plain text, one timestamped line each). */
  log?: string;
}

export interface WorkflowRunSeed {
  id: number;
  attempt?: number;
  name?: string;
  headBranch?: string;
  headSha?: string;
  event?: string;
  conclusion?: 'success' | 'failure' | 'cancelled' | null;
  actor?: string;
  headCommit?: { message?: string; author: { name: string; email: string } };
  jobs: JobSeed[];
}

export interface StartOptions {
  /** owner/name of the repository the server holds. */
  repository?: string;
  /** The token every request must carry (`token X` or `Bearer X`). */
  token?: string;
  /** What github.com links point at (html_url). */
  serverUrl?: string;
  /** Login of the token's user: the author of issues and comments. */
  login?: string;
}

type Handler = (req: MatchedRequest, body: unknown) => { status: number; body?: Json; headers?: Record<string, string>; text?: string };

interface Injected {
  operationId: string;
  status: number;
  message: string;
  times: number;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v));
const given = (v: unknown): v is string => typeof v === 'string' && v !== '';
const iso = (date = new Date()): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Deep merge: objects merge key by key, anything else replaces; `undefined` deletes. */
function merge(base: Json, over: Record<string, unknown>): Json {
  if (!base || typeof base !== 'object' || Array.isArray(base)) return over as Json;
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete out[k];
    else if (v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' && !Array.isArray(out[k])) out[k] = merge(out[k], v as Record<string, unknown>);
    else out[k] = v as Json;
  }
  return out;
}

export class GitHubApiServer {
  readonly description: GitHubApiDescription;
  readonly repository: string;
  readonly owner: string;
  readonly repo: string;
  readonly token: string;
  readonly serverUrl: string;
  readonly login: string;
  /** Every request in order. */
  readonly requests: LoggedRequest[] = [];
  /** Every way a request or a response departed from GitHub's description. */
  readonly violations: string[] = [];
  /** Issues by number, as the API returns them. */
  readonly issues = new Map<number, JsonObject>();
  readonly comments = new Map<number, JsonObject[]>();
  readonly labels = new Map<string, JsonObject>();
  readonly runs = new Map<number, { run: JsonObject; jobs: JsonObject[]; logs: Map<number, string> }>();
  readonly deployments = new Map<number, JsonObject>();
  readonly deploymentStatuses = new Map<number, JsonObject[]>();
  #server: Server | undefined;
  #url = '';
  #nextId = 1000;
  #nextNumber = 1;
  readonly #injected: Injected[] = [];
  readonly #handlers: Record<string, Handler>;

  constructor(options: StartOptions = {}) {
    this.description = loadGitHubApiDescription();
    this.repository = options.repository ?? 'octo-org/gangway-fixture';
    const [owner, repo] = this.repository.split('/');
    if (!owner || !repo) throw new Error(`repository must be owner/name, got ${this.repository}`);
    this.owner = owner;
    this.repo = repo;
    this.token = options.token ?? 'ghs_' + 'test'.repeat(9);
    this.serverUrl = options.serverUrl ?? 'https://github.com';
    this.login = options.login ?? 'github-actions[bot]';
    this.#handlers = {
      'issues/list-for-repo': (r) => this.#listIssues(r),
      'issues/create': (_r, b) => this.#createIssue(b as JsonObject),
      'issues/get': (r) => this.#withIssue(r, (issue) => ({ status: 200, body: issue })),
      'issues/update': (r, b) => this.#withIssue(r, (issue) => this.#updateIssue(issue, b as JsonObject)),
      'issues/create-comment': (r, b) => this.#withIssue(r, (issue) => this.#comment(issue, (b as JsonObject).body as string)),
      'issues/list-comments': (r) => this.#withIssue(r, (issue) => this.#page(r, this.comments.get(issue.number as number) ?? [])),
      'issues/add-labels': (r, b) => this.#withIssue(r, (issue) => this.#addLabels(issue, b)),
      'actions/get-workflow-run': (r) => this.#withRun(r, (run) => ({ status: 200, body: run.run })),
      'actions/get-workflow-run-attempt': (r) => this.#withRun(r, (run) => ({ status: 200, body: run.run })),
      'actions/list-jobs-for-workflow-run-attempt': (r) =>
        this.#withRun(r, (run) => {
          const page = this.#page(r, run.jobs.filter((j) => j.run_attempt === r.params.attempt_number));
          return { ...page, body: { total_count: run.jobs.length, jobs: page.body as Json[] } };
        }),
      'actions/list-jobs-for-workflow-run': (r) =>
        this.#withRun(r, (run) => {
          const page = this.#page(r, run.jobs);
          return { ...page, body: { total_count: run.jobs.length, jobs: page.body as Json[] } };
        }),
      'actions/download-job-logs-for-workflow-run': (r) => {
        for (const run of this.runs.values()) {
          if (run.logs.has(r.params.job_id as number)) return { status: 302, headers: { location: `${this.#url}/_gangway/job-logs/${r.params.job_id}` } };
        }
        return this.#notFound();
      },
      'repos/create-deployment': (_r, b) => this.#createDeployment(b as JsonObject),
      'repos/list-deployments': (r) => this.#page(r, this.#filterDeployments(r)),
      'repos/get-deployment': (r) => this.#withDeployment(r, (d) => ({ status: 200, body: d })),
      'repos/create-deployment-status': (r, b) => this.#withDeployment(r, (d) => this.#createDeploymentStatus(d, b as JsonObject)),
      'repos/list-deployment-statuses': (r) => this.#withDeployment(r, (d) => this.#page(r, [...(this.deploymentStatuses.get(d.id as number) ?? [])].reverse())),
    };
  }

  /** Base URL to hand to Octokit (`baseUrl`) or to the runner (`GITHUB_API_URL`). */
  get url(): string {
    return this.#url;
  }

  async listen(): Promise<this> {
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    this.#server = server;
    this.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Throws with every violation when a request or response departed from the description. */
  assertConforming(): void {
    if (this.violations.length > 0) throw new Error(`GitHub API description violations:\n- ${this.violations.join('\n- ')}`);
  }

  /** The logged requests of one operation. */
  calls(operationId: string): LoggedRequest[] {
    return this.requests.filter((r) => r.operationId === operationId);
  }

  /** Makes the next `times` requests to an operation fail with `status` (a GitHub-shaped error). */
  failNext(operationId: string, status: number, options: { times?: number; message?: string } = {}): void {
    this.description.operation(operationId);
    this.#injected.push({ operationId, status, message: options.message ?? `injected ${status}`, times: options.times ?? 1 });
  }

  // ── seeding ──────────────────────────────────────────────────────────────────────

  /** A workflow run with its jobs, steps and logs, as the Actions API will report it. */
  addWorkflowRun(seed: WorkflowRunSeed): JsonObject {
    const d = this.description;
    const attempt = seed.attempt ?? 1;
    const headSha = seed.headSha ?? 'f83a356604ae3c5d03e1b46ef4d1ca77d64a90b0';
    const api = `https://api.github.com/repos/${this.repository}`;
    const html = `${this.serverUrl}/${this.repository}`;
    const run = d.complete(
      'workflow-run',
      merge(d.example('workflow-run'), {
        id: seed.id,
        name: seed.name ?? 'Deploy',
        head_branch: seed.headBranch ?? 'main',
        head_sha: headSha,
        event: seed.event ?? 'push',
        status: seed.conclusion === null ? 'in_progress' : 'completed',
        conclusion: seed.conclusion === undefined ? 'failure' : seed.conclusion,
        run_attempt: attempt,
        url: `${api}/actions/runs/${seed.id}`,
        html_url: `${html}/actions/runs/${seed.id}`,
        jobs_url: `${api}/actions/runs/${seed.id}/jobs`,
        logs_url: `${api}/actions/runs/${seed.id}/logs`,
        actor: { login: seed.actor ?? 'octocat' },
        triggering_actor: { login: seed.actor ?? 'octocat' },
        head_commit: {
          id: headSha,
          message: seed.headCommit?.message ?? 'Fix all the bugs',
          author: seed.headCommit?.author ?? { name: 'Mona Octocat', email: 'octocat@github.com' },
          committer: seed.headCommit?.author ?? { name: 'Mona Octocat', email: 'octocat@github.com' },
        },
      }),
    ) as JsonObject;
    const logs = new Map<number, string>();
    const jobs = seed.jobs.map((job) => {
      const id = this.#nextId++;
      if (job.log !== undefined) logs.set(id, job.log);
      const completed = job.conclusion !== null;
      return d.complete(
        'job',
        merge(d.example('job'), {
          id,
          run_id: seed.id,
          run_attempt: attempt,
          run_url: `${api}/actions/runs/${seed.id}`,
          url: `${api}/actions/jobs/${id}`,
          html_url: `${html}/actions/runs/${seed.id}/job/${id}`,
          check_run_url: `${api}/check-runs/${id}`,
          head_sha: headSha,
          head_branch: seed.headBranch ?? 'main',
          workflow_name: seed.name ?? 'Deploy',
          name: job.name,
          status: completed ? 'completed' : 'in_progress',
          conclusion: job.conclusion,
          created_at: iso(),
          started_at: iso(),
          completed_at: completed ? iso() : null,
          labels: ['ubuntu-latest'],
          steps: (job.steps ?? []).map((s, i) => ({
            name: s.name,
            status: s.conclusion === null ? 'in_progress' : 'completed',
            conclusion: s.conclusion,
            number: i + 1,
            started_at: iso(),
            completed_at: s.conclusion === null ? null : iso(),
          })),
        }),
      ) as JsonObject;
    });
    this.runs.set(seed.id, { run, jobs, logs });
    return run;
  }

  /** An issue that exists before the test starts (e.g. one opened by an earlier run). */
  addIssue(fields: { title: string; body?: string; labels?: string[]; state?: 'open' | 'closed' }): JsonObject {
    const result = this.#createIssue({ title: fields.title, body: fields.body ?? '', labels: fields.labels ?? [] }).body as JsonObject;
    if (fields.state === 'closed') Object.assign(result, { state: 'closed', closed_at: iso(), state_reason: 'completed' });
    return result;
  }

  // ── request handling ─────────────────────────────────────────────────────────────

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const raw = await new Promise<string>((resolve) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      req.on('end', () => resolve(text));
    });
    const auth = req.headers.authorization ?? '';
    const tokenOk = auth === `token ${this.token}` || auth === `Bearer ${this.token}`;
    const entry: LoggedRequest = { method, url: url.pathname + url.search, operationId: undefined, params: {}, query: {}, body: undefined, status: 0, auth: auth === '' ? '' : tokenOk ? '<token>' : '<other token>' };
    this.requests.push(entry);
    const send = (status: number, body?: Json, headers: Record<string, string> = {}, text?: string): void => {
      entry.status = status;
      const payload = text ?? (body === undefined ? '' : JSON.stringify(body));
      res.writeHead(status, {
        'content-type': text !== undefined ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
        'x-github-request-id': `GANGWAY:${this.requests.length}`,
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': '4999',
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
        'x-github-api-version-selected': '2022-11-28',
        ...headers,
      });
      res.end(payload);
    };
    const error = (status: number, message: string, errors?: Json): void =>
      send(status, { message, documentation_url: 'https://docs.github.com/rest', status: String(status), ...(errors ? { errors } : {}) });

    // Job logs: where download-job-logs redirects to, like the signed blob URL.
    const logPath = /^\/_gangway\/job-logs\/(\d+)$/.exec(url.pathname);
    if (logPath && method === 'GET') {
      const id = Number(logPath[1]);
      for (const run of this.runs.values()) {
        const log = run.logs.get(id);
        if (log !== undefined) return send(200, undefined, {}, log);
      }
      return error(404, 'Not Found');
    }

    if (!tokenOk) {
      this.violations.push(`${method} ${url.pathname}: ${auth === '' ? 'no Authorization header' : 'a token other than the one the job was given'}`);
      return error(401, 'Bad credentials');
    }
    const matched = this.description.match(method, url.pathname, url.searchParams);
    if (!matched.ok) {
      this.violations.push(...matched.problems);
      return error(matched.status, matched.status === 404 ? 'Not Found' : 'Validation Failed', matched.problems);
    }
    const { operation } = matched.request;
    entry.operationId = operation.operationId;
    entry.params = matched.request.params;
    entry.query = matched.request.query;
    let body: unknown;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        this.violations.push(`${operation.operationId}: the body is not JSON`);
        return error(400, 'Problems parsing JSON');
      }
    }
    entry.body = body;
    const bodyProblems = this.description.checkBody(operation, body, req.headers['content-type']);
    if (bodyProblems.length > 0) {
      this.violations.push(...bodyProblems);
      return error(422, 'Validation Failed', bodyProblems);
    }
    const params = matched.request.params;
    if (params.owner !== undefined && `${params.owner}/${params.repo}`.toLowerCase() !== this.repository.toLowerCase()) {
      return error(404, 'Not Found');
    }
    const injected = this.#injected.find((i) => i.operationId === operation.operationId && i.times > 0);
    if (injected) {
      injected.times--;
      return error(injected.status, injected.message);
    }
    const handler = this.#handlers[operation.operationId];
    if (!handler) {
      this.violations.push(`${operation.operationId} (${method} ${operation.template}) is valid but the test server does not implement it`);
      return error(501, `${operation.operationId} is not implemented by the test server`);
    }
    const out = handler(matched.request, body);
    if (out.body !== undefined && out.status < 400) {
      const problems = this.description.checkResponse(operation, out.status, out.body);
      if (problems.length > 0) {
        this.violations.push(...problems.map((p) => `test server bug: ${p}`));
        return error(500, 'test server response does not match the description');
      }
    } else if (out.status < 400 && !this.description.hasResponse(operation, out.status)) {
      this.violations.push(`test server bug: ${operation.operationId} has no ${out.status} response`);
    }
    if (out.status >= 400) return error(out.status, out.text ?? 'Not Found');
    send(out.status, out.body, out.headers);
  }

  #notFound(): { status: number; body?: Json } {
    return { status: 404 };
  }

  /** Pagination as GitHub does it: per_page (30, at most 100), page, and a Link header. */
  #page(r: MatchedRequest, items: Json[]): { status: number; body: Json; headers: Record<string, string> } {
    const perPage = Math.min(100, Number(r.query.per_page ?? 30));
    const page = Number(r.query.page ?? 1);
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const headers: Record<string, string> = {};
    const last = Math.max(1, Math.ceil(items.length / perPage));
    if (page < last) {
      const link = (p: number): string => {
        const u = new URL(`${this.#url}${r.operation.template.replace(/\{(\w+)\}/g, (_, n: string) => String(r.params[n]))}`);
        for (const [k, v] of Object.entries(r.query)) u.searchParams.set(k, String(v));
        u.searchParams.set('page', String(p));
        return u.toString();
      };
      headers.link = `<${link(page + 1)}>; rel="next", <${link(last)}>; rel="last"`;
    }
    return { status: 200, body: slice, headers };
  }

  // ── issues ───────────────────────────────────────────────────────────────────────

  #label(name: string): JsonObject {
    let label = this.labels.get(name.toLowerCase());
    if (!label) {
      const id = this.#nextId++;
      label = merge(this.description.example('label'), {
        id,
        node_id: `LA_${id}`,
        url: `https://api.github.com/repos/${this.repository}/labels/${encodeURIComponent(name)}`,
        name,
        description: null,
        color: 'ededed',
        default: false,
      }) as JsonObject;
      this.labels.set(name.toLowerCase(), label);
    }
    return label;
  }

  #labelNames(labels: unknown): string[] {
    if (!Array.isArray(labels)) return [];
    return labels.map((l) => (typeof l === 'string' ? l : String((l as { name?: string }).name ?? ''))).filter((n) => n !== '');
  }

  #createIssue(b: JsonObject): { status: number; body: Json; headers: Record<string, string> } {
    const number = this.#nextNumber++;
    const id = this.#nextId++;
    const api = `https://api.github.com/repos/${this.repository}/issues/${number}`;
    const now = iso();
    const issue = merge(this.description.example('issue'), {
      id,
      node_id: `I_${id}`,
      number,
      url: api,
      repository_url: `https://api.github.com/repos/${this.repository}`,
      labels_url: `${api}/labels{/name}`,
      comments_url: `${api}/comments`,
      events_url: `${api}/events`,
      html_url: `${this.serverUrl}/${this.repository}/issues/${number}`,
      title: text(b.title),
      body: typeof b.body === 'string' ? b.body : null,
      state: 'open',
      state_reason: null,
      locked: false,
      labels: this.#labelNames(b.labels).map((n) => this.#label(n)),
      assignee: null,
      assignees: [],
      milestone: null,
      comments: 0,
      pull_request: undefined,
      closed_at: null,
      closed_by: null,
      created_at: now,
      updated_at: now,
      author_association: 'NONE',
      user: { login: this.login, type: 'Bot' },
    }) as JsonObject;
    this.issues.set(number, issue);
    this.comments.set(number, []);
    return { status: 201, body: issue, headers: { location: api } };
  }

  #withIssue(r: MatchedRequest, fn: (issue: JsonObject) => ReturnType<Handler>): ReturnType<Handler> {
    const issue = this.issues.get(r.params.issue_number as number);
    return issue ? fn(issue) : this.#notFound();
  }

  #listIssues(r: MatchedRequest): ReturnType<Handler> {
    const state = String(r.query.state ?? 'open');
    const wanted = typeof r.query.labels === 'string' ? r.query.labels.split(',').map((l) => l.trim().toLowerCase()).filter(Boolean) : [];
    const creator = r.query.creator === undefined ? undefined : String(r.query.creator);
    let list = [...this.issues.values()].filter((i) => state === 'all' || i.state === state);
    list = list.filter((i) => wanted.every((w) => (i.labels as JsonObject[]).some((l) => text(l.name).toLowerCase() === w)));
    if (creator) list = list.filter((i) => (i.user as JsonObject).login === creator);
    list.sort((a, b) => (r.query.direction === 'asc' ? 1 : -1) * ((a.number as number) - (b.number as number)));
    return this.#page(r, list);
  }

  #updateIssue(issue: JsonObject, b: JsonObject): ReturnType<Handler> {
    if (typeof b.title === 'string') issue.title = b.title;
    if (typeof b.body === 'string') issue.body = b.body;
    if (Array.isArray(b.labels)) issue.labels = this.#labelNames(b.labels).map((n) => this.#label(n));
    if (b.state === 'closed' && issue.state !== 'closed') {
      issue.state = 'closed';
      issue.closed_at = iso();
      issue.state_reason = typeof b.state_reason === 'string' ? b.state_reason : 'completed';
    } else if (b.state === 'open' && issue.state !== 'open') {
      issue.state = 'open';
      issue.closed_at = null;
      issue.state_reason = 'reopened';
    }
    issue.updated_at = iso();
    return { status: 200, body: issue };
  }

  #comment(issue: JsonObject, text: string): ReturnType<Handler> {
    const id = this.#nextId++;
    const now = iso();
    const comment = merge(this.description.example('issue-comment'), {
      id,
      node_id: `IC_${id}`,
      url: `https://api.github.com/repos/${this.repository}/issues/comments/${id}`,
      html_url: `${issue.html_url as string}#issuecomment-${id}`,
      issue_url: issue.url,
      body: text,
      user: { login: this.login, type: 'Bot' },
      created_at: now,
      updated_at: now,
      author_association: 'NONE',
    }) as JsonObject;
    this.comments.get(issue.number as number)?.push(comment);
    issue.comments = (issue.comments as number) + 1;
    issue.updated_at = now;
    return { status: 201, body: comment, headers: { location: comment.url as string } };
  }

  #addLabels(issue: JsonObject, b: unknown): ReturnType<Handler> {
    const names = Array.isArray(b) ? this.#labelNames(b) : this.#labelNames((b as JsonObject).labels);
    for (const n of names) if (!(issue.labels as JsonObject[]).some((l) => l.name === n)) (issue.labels as JsonObject[]).push(this.#label(n));
    return { status: 200, body: issue.labels };
  }

  // ── actions ──────────────────────────────────────────────────────────────────────

  #withRun(r: MatchedRequest, fn: (run: { run: JsonObject; jobs: JsonObject[] }) => ReturnType<Handler>): ReturnType<Handler> {
    const run = this.runs.get(r.params.run_id as number);
    if (!run) return this.#notFound();
    if (r.params.attempt_number !== undefined && (r.params.attempt_number as number) > (run.run.run_attempt as number)) return this.#notFound();
    return fn(run);
  }

  // ── deployments ──────────────────────────────────────────────────────────────────

  #createDeployment(b: JsonObject): ReturnType<Handler> {
    const id = this.#nextId++;
    const api = `https://api.github.com/repos/${this.repository}/deployments/${id}`;
    const now = iso();
    const environment = typeof b.environment === 'string' ? b.environment : 'production';
    const deployment = merge(this.description.example('deployment'), {
      id,
      node_id: `DE_${id}`,
      url: api,
      sha: /^[0-9a-f]{40}$/.test(text(b.ref)) ? text(b.ref) : 'a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d',
      ref: text(b.ref),
      task: typeof b.task === 'string' ? b.task : 'deploy',
      payload: b.payload && typeof b.payload === 'object' ? b.payload : typeof b.payload === 'string' && b.payload !== '' ? (JSON.parse(b.payload) as Json) : {},
      original_environment: environment,
      environment,
      description: typeof b.description === 'string' ? b.description : null,
      creator: { login: this.login, type: 'Bot' },
      created_at: now,
      updated_at: now,
      statuses_url: `${api}/statuses`,
      repository_url: `https://api.github.com/repos/${this.repository}`,
      transient_environment: b.transient_environment === true,
      production_environment: typeof b.production_environment === 'boolean' ? b.production_environment : environment === 'production',
    }) as JsonObject;
    this.deployments.set(id, deployment);
    this.deploymentStatuses.set(id, []);
    return { status: 201, body: deployment };
  }

  #filterDeployments(r: MatchedRequest): JsonObject[] {
    return [...this.deployments.values()]
      .filter((d) => (r.query.environment === undefined || d.environment === r.query.environment) && (r.query.ref === undefined || d.ref === r.query.ref) && (r.query.sha === undefined || d.sha === r.query.sha) && (r.query.task === undefined || d.task === r.query.task))
      .reverse();
  }

  #withDeployment(r: MatchedRequest, fn: (d: JsonObject) => ReturnType<Handler>): ReturnType<Handler> {
    const d = this.deployments.get(r.params.deployment_id as number);
    return d ? fn(d) : this.#notFound();
  }

  #createDeploymentStatus(d: JsonObject, b: JsonObject): ReturnType<Handler> {
    const id = this.#nextId++;
    const now = iso();
    const example = this.description.example('deployment-status') as JsonObject;
    const status = merge(example, {
      id,
      node_id: `DES_${id}`,
      url: `${d.url as string}/statuses/${id}`,
      state: text(b.state),
      creator: { login: this.login, type: 'Bot' },
      description: typeof b.description === 'string' ? b.description : '',
      environment: typeof b.environment === 'string' ? b.environment : (d.environment),
      // Unset URLs keep the example's (the description types them as uri, so never '').
      ...(given(b.target_url) ? { target_url: b.target_url } : {}),
      ...(given(b.log_url) ? { log_url: b.log_url } : given(b.target_url) ? { log_url: b.target_url } : {}),
      ...(given(b.environment_url) ? { environment_url: b.environment_url } : {}),
      deployment_url: d.url,
      repository_url: `https://api.github.com/repos/${this.repository}`,
      created_at: now,
      updated_at: now,
    }) as JsonObject;
    this.deploymentStatuses.get(d.id as number)?.push(status);
    d.updated_at = now;
    // auto_inactive (default true): a successful deploy makes earlier ones of the environment inactive.
    if (b.state === 'success' && b.auto_inactive !== false) {
      for (const other of this.deployments.values()) {
        if (other.id === d.id || other.environment !== d.environment) continue;
        const list = this.deploymentStatuses.get(other.id as number) ?? [];
        if (list.at(-1)?.state === 'success') list.push(merge(list.at(-1) as JsonObject, { id: this.#nextId++, state: 'inactive', created_at: now, updated_at: now }) as JsonObject);
      }
    }
    return { status: 201, body: status, headers: { location: status.url as string } };
  }
}

/** Starts a server on 127.0.0.1 with a random port. Close it in afterAll/afterEach. */
export async function startGitHubApi(options: StartOptions = {}): Promise<GitHubApiServer> {
  return new GitHubApiServer(options).listen();
}
