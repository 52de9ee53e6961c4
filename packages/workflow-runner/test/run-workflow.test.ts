import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pushEvent, runWorkflow, workflowDispatchEvent, type WorkflowRunResult } from '../src/index.ts';

const fixtures = path.join(import.meta.dirname, 'fixtures');
const repository = { fullName: 'acme/shop' };
const sha = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
const scratch = mkdtempSync(path.join(tmpdir(), 'gangway-wf-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function workflowFile(name: string, text: string): string {
  const file = path.join(scratch, name);
  writeFileSync(file, text);
  return file;
}

const job = (run: WorkflowRunResult, id: string) => run.jobs.find((j) => j.id === id)!;
const step = (run: WorkflowRunResult, jobId: string, stepId: string) => job(run, jobId).steps.find((s) => s.id === stepId)!;

describe('runWorkflow on a workflow of plain steps and a fixture action', () => {
  let pushed: WorkflowRunResult;
  const lines: string[] = [];

  it('runs jobs in needs order with env, outputs, needs, continue-on-error, failure() and always()', async () => {
    pushed = await runWorkflow({
      workflow: path.join(fixtures, 'basic.yml'),
      event: pushEvent({ repository, sha }),
      settings: { vars: { COLOUR: 'blue' }, secrets: { TOKEN: 'tok-very-secret-value' } },
      actionsRoot: fixtures,
      log: (l) => lines.push(l),
    });
    expect(pushed.jobs.map((j) => [j.id, j.result])).toEqual([
      ['first', 'success'],
      ['second', 'failure'],
      ['third', 'skipped'],
      ['report', 'success'],
    ]);
    expect(pushed.conclusion).toBe('failure');
    // env at workflow, job and step level reach the action.
    expect(step(pushed, 'first', 'echo').run?.log).toContain('main says pushed (FROM_STEP=step, FROM_JOB=job-blue, FROM_WORKFLOW=wf-push)');
    expect(step(pushed, 'first', 'second').run?.log).toContain('FROM_STEP=,');
    // Expressions inside run: are evaluated before the script is written; secrets are usable.
    expect(job(pushed, 'first').outputs).toEqual({ said: 'PUSHED', line: 'PUSHED-job-blue-true' });
    expect(step(pushed, 'second', 'failing')).toMatchObject({ outcome: 'failure', conclusion: 'success' });
    expect(step(pushed, 'second', 'after').outputs).toEqual({ seen: 'PUSHED-job-blue-true success ' }); // a push has no inputs: '' as on GitHub
    // bash -e: the script stops at `false`.
    expect(step(pushed, 'second', 'broken')).toMatchObject({ outcome: 'failure', outputs: {} });
    expect(step(pushed, 'second', 'skipped-by-failure').outcome).toBe('skipped');
    expect(step(pushed, 'second', 'on-failure').outputs).toEqual({ status: 'failure' });
    expect(JSON.parse(step(pushed, 'report', 'all').outputs['needs'] ?? '{}')).toEqual({
      first: { result: 'success', outputs: { said: 'PUSHED', line: 'PUSHED-job-blue-true' } },
      second: { result: 'failure', outputs: {} },
      third: { result: 'skipped', outputs: {} },
    });
  });

  it('runs post steps after the job, in reverse order, with each main step\'s state', () => {
    const posts = job(pushed, 'first').steps.filter((s) => s.kind === 'post');
    expect(posts.map((s) => s.run?.log.trim())).toEqual(['post of second', 'post of pushed']);
    expect(job(pushed, 'first').steps.map((s) => s.kind)).toEqual(['uses', 'uses', 'run', 'post', 'post']);
  });

  it('masks secrets in what it prints, every line of them', async () => {
    const file = workflowFile('leak.yml', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          echo "token is ${{ secrets.TOKEN }} and ${{ secrets.MULTI }}"\n          exit 1\n');
    const printed: string[] = [];
    await runWorkflow({ workflow: file, event: pushEvent({ repository, sha }), settings: { secrets: { TOKEN: 'tok-very-secret-value', MULTI: 'first-line-secret\nsecond-line-secret' } }, log: (l) => printed.push(l), sweepSecrets: false });
    const text = printed.join('\n');
    // The failing step's log tail is printed: the secret is in it, masked.
    expect(text).toMatch(/token is \*\*\* and \*\*\*/);
    expect(text).not.toMatch(/tok-very-secret-value|first-line-secret|second-line-secret/);
    expect(lines.some((l) => l.includes('job first'))).toBe(true);
  });

  it('reads secrets, vars and dispatch inputs from a settings file', async () => {
    const settingsFile = path.join(scratch, 'settings.yml');
    writeFileSync(settingsFile, 'vars:\n  COLOUR: green\nsecrets:\n  TOKEN: from-a-file-secret\ninputs:\n  greeting: hi\n  loud: true\n');
    const run = await runWorkflow({ workflow: path.join(fixtures, 'basic.yml'), event: workflowDispatchEvent({ repository, sha }), settings: settingsFile, actionsRoot: fixtures });
    expect(job(run, 'first').outputs).toEqual({ said: 'HI', line: 'HI-job-green-true' });
    expect(step(run, 'second', 'after').outputs['seen']).toMatch(/ true$/);
  });

  it('environment settings reach only the jobs that name the environment', async () => {
    const file = workflowFile('env-scope.yml', 'on: push\njobs:\n  plain:\n    runs-on: ubuntu-latest\n    steps:\n      - id: s\n        run: echo "v=${{ vars.WHERE }}" >> "$GITHUB_OUTPUT"\n  prod:\n    runs-on: ubuntu-latest\n    environment: production\n    steps:\n      - id: s\n        run: echo "v=${{ vars.WHERE }}" >> "$GITHUB_OUTPUT"\n');
    const run = await runWorkflow({ workflow: file, event: pushEvent({ repository, sha }), settings: { vars: { WHERE: 'repository' }, environments: { production: { vars: { WHERE: 'environment' } } } } });
    expect(step(run, 'plain', 's').outputs['v']).toBe('repository');
    expect(step(run, 'prod', 's').outputs['v']).toBe('environment');
  });

  it('the env context has the step\'s own env and what earlier steps exported', async () => {
    const file = workflowFile('env-context.yml', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo "FOO=bar" >> "$GITHUB_ENV"\n      - id: s\n        if: env.FOO == \'bar\'\n        env: { OWN: mine }\n        run: echo "v=${{ env.FOO }}-${{ env.OWN }}" >> "$GITHUB_OUTPUT"\n');
    const run = await runWorkflow({ workflow: file, event: pushEvent({ repository, sha }) });
    expect(step(run, 'a', 's').outputs['v']).toBe('bar-mine');
  });

  it('types workflow_dispatch inputs as the form does, defaults included', async () => {
    const run = await runWorkflow({
      workflow: path.join(fixtures, 'basic.yml'),
      event: workflowDispatchEvent({ repository, sha }),
      settings: { inputs: { loud: true } },
      actionsRoot: fixtures,
    });
    expect(job(run, 'first').outputs['said']).toBe('HELLO');
    expect(step(run, 'second', 'after').outputs['seen']).toMatch(/ true$/);
  });

  it('refuses a dispatch input of the wrong type, and puts the inputs in the event payload as strings', async () => {
    await expect(runWorkflow({ workflow: path.join(fixtures, 'basic.yml'), event: workflowDispatchEvent({ repository, sha }), settings: { inputs: { loud: 'yes' } }, actionsRoot: fixtures })).rejects.toThrow(/inputs\.loud: is a boolean/);
  });

  it('refuses an input the dispatch form does not declare', async () => {
    await expect(runWorkflow({ workflow: path.join(fixtures, 'basic.yml'), event: workflowDispatchEvent({ repository, sha }), settings: { inputs: { nope: 'x' } }, actionsRoot: fixtures })).rejects.toThrow(/declares no input "nope"/);
  });

  it('is not triggered by a push to a branch the filter leaves out', async () => {
    const run = await runWorkflow({ workflow: path.join(fixtures, 'basic.yml'), event: pushEvent({ repository, sha, branch: 'feature' }), actionsRoot: fixtures });
    expect(run).toMatchObject({ triggered: false, jobs: [] });
  });
});

describe('what the runner does not support fails loudly, naming the key', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['matrix', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    strategy: { matrix: { x: [1, 2] } }\n    steps: [{ run: echo }]\n', /jobs\.a\.strategy: not supported/],
    ['container', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    container: node:24\n    steps: [{ run: echo }]\n', /jobs\.a\.container/],
    ['services', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    services: { redis: { image: redis } }\n    steps: [{ run: echo }]\n', /jobs\.a\.services/],
    ['windows', 'on: push\njobs:\n  a:\n    runs-on: windows-latest\n    steps: [{ run: echo }]\n', /jobs\.a\.runs-on: only ubuntu/],
    ['defaults', 'on: push\ndefaults: { run: { shell: bash } }\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: echo }]\n', /defaults: not supported/],
    ['pwsh', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: echo, shell: pwsh }]\n', /steps\[0\]\.shell: only bash and sh/],
    ['unknown action', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo first\n      - uses: appleboy/ssh-action@v1\n', /steps\[1\]\.uses: "appleboy\/ssh-action@v1" has no local stand-in/],
    ['stand-in input', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        with: { submodules: true }\n', /with\.submodules: the local stand-in for actions\/checkout@v4 does not support it/],
    ['reusable workflow', 'on: push\njobs:\n  a:\n    uses: ./.github/workflows/x.yml\n', /jobs\.a\.uses: reusable workflows/],
  ];
  it.each(cases)('%s', async (_, text, message) => {
    const marker = path.join(scratch, `ran-${Math.random()}`);
    const file = workflowFile('unsupported.yml', text.replace('run: echo first', `run: touch ${marker}`));
    await expect(runWorkflow({ workflow: file, event: pushEvent({ repository, sha }) })).rejects.toThrow(message);
    // Nothing ran before the refusal.
    expect(() => execFileSync('test', ['-e', marker])).toThrow();
  });
});

describe('timeouts and the stand-ins', () => {
  it('timeout-minutes of a step kills it and fails the step', async () => {
    const file = workflowFile('timeout.yml', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - id: slow\n        run: sleep 30\n        timeout-minutes: 0.02\n      - id: after\n        if: always()\n        run: echo "ok=yes" >> "$GITHUB_OUTPUT"\n');
    const started = Date.now();
    const run = await runWorkflow({ workflow: file, event: pushEvent({ repository, sha }) });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(step(run, 'a', 'slow')).toMatchObject({ outcome: 'failure', error: expect.stringMatching(/timed out/) as unknown });
    expect(step(run, 'a', 'after').outputs).toEqual({ ok: 'yes' });
  });

  it('actions/checkout copies the repository at the ref, sparse when asked; setup-node puts Node 24 on PATH', async () => {
    const file = workflowFile(
      'checkout.yml',
      [
        'on: push',
        'jobs:',
        '  a:',
        '    runs-on: ubuntu-latest',
        '    steps:',
        '      - uses: actions/checkout@v4',
        '        with:',
        '          sparse-checkout: |',
        '            scripts',
        '      - uses: actions/setup-node@v4',
        '        with: { node-version: 24 }',
        '      - id: look',
        '        run: |',
        '          echo "node=$(node --version | cut -d. -f1)" >> "$GITHUB_OUTPUT"',
        '          echo "files=$(ls | tr "\\n" " ")" >> "$GITHUB_OUTPUT"',
        '          echo "sha=$(grep -c . package.json)" >> "$GITHUB_OUTPUT"',
      ].join('\n'),
    );
    const run = await runWorkflow({ workflow: file, event: pushEvent({ repository, sha }) });
    const outputs = step(run, 'a', 'look').outputs;
    expect(outputs['node']).toBe('v24');
    const files = (outputs['files'] ?? '').trim().split(' ');
    expect(files).toContain('scripts');
    expect(files).toContain('package.json');
    expect(files).not.toContain('app');
  });

  it('timeout-minutes of a job cancels it at its deadline: always() and cancelled() steps still run', async () => {
    const file = workflowFile('job-timeout.yml', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    timeout-minutes: 0.03\n    steps:\n      - id: slow\n        run: sleep 30\n      - id: next\n        run: echo "ran=yes" >> "$GITHUB_OUTPUT"\n      - id: cleanup\n        if: cancelled()\n        run: echo "ran=yes" >> "$GITHUB_OUTPUT"\n  b:\n    needs: a\n    if: always()\n    runs-on: ubuntu-latest\n    steps:\n      - id: saw\n        run: echo "a=${{ needs.a.result }}" >> "$GITHUB_OUTPUT"\n');
    const started = Date.now();
    const run = await runWorkflow({ workflow: file, event: pushEvent({ repository, sha }) });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(step(run, 'a', 'slow').outcome).toBe('cancelled');
    expect(step(run, 'a', 'next').outcome).toBe('skipped');
    expect(step(run, 'a', 'cleanup').outputs).toEqual({ ran: 'yes' });
    expect(step(run, 'b', 'saw').outputs).toEqual({ a: 'failure' });
  });

  it('a cancelled run (the cancel button) stops the running step; only always() and cancelled() steps run after it', async () => {
    const file = workflowFile('cancel.yml', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - id: slow\n        run: sleep 30\n      - id: next\n        run: echo "ran=yes" >> "$GITHUB_OUTPUT"\n      - id: always\n        if: always()\n        run: echo "ran=yes" >> "$GITHUB_OUTPUT"\n  b:\n    needs: a\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo never\n');
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(), 1500);
    const run = await runWorkflow({ workflow: file, event: pushEvent({ repository, sha }), signal: cancel.signal });
    expect(run.conclusion).toBe('cancelled');
    expect(step(run, 'a', 'slow').outcome).toBe('cancelled');
    expect(step(run, 'a', 'next').outcome).toBe('skipped');
    expect(step(run, 'a', 'always').outputs).toEqual({ ran: 'yes' });
    expect(job(run, 'a').result).toBe('cancelled');
    expect(job(run, 'b').result).toBe('skipped');
  });

  it('a local action (./action-*) needs the checkout, as on GitHub; the bundle run is this checkout\'s', async () => {
    const file = workflowFile('local.yml', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - id: before\n        uses: ./action-notify\n        with: { status: success, issue: false }\n');
    const run = await runWorkflow({ workflow: file, event: pushEvent({ repository, sha }) });
    expect(step(run, 'a', 'before')).toMatchObject({ outcome: 'failure', error: expect.stringMatching(/Can't find 'action.yml'.*actions\/checkout/) as unknown });
  });

  it('steps see no node_modules/.bin on PATH: Node 24 comes from setup-node, as on a runner', async () => {
    const file = workflowFile('path.yml', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - id: look\n        run: echo "path=$PATH" >> "$GITHUB_OUTPUT"\n');
    const run = await runWorkflow({ workflow: file, event: pushEvent({ repository, sha }) });
    expect(step(run, 'a', 'look').outputs['path']).not.toMatch(/node_modules/);
  });

  it('setup-node refuses a Node it cannot provide', async () => {
    const file = workflowFile('node18.yml', 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - id: n\n        uses: actions/setup-node@v4\n        with: { node-version: 18 }\n');
    const run = await runWorkflow({ workflow: file, event: pushEvent({ repository, sha }) });
    expect(step(run, 'a', 'n')).toMatchObject({ outcome: 'failure', error: expect.stringMatching(/node-version "18".*Node 24/) as unknown });
  });
});
