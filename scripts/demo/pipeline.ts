// The deploy.yml sequence, run locally on the lab through the runner harness on the dist
// bundles: build → VPN → deploy → smoke test, then the post steps (deploy lock, VPN down).
// `npm run demo` and the end-to-end test both run this.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { RunnerJob, type ActionRun } from '@gangway/kit/harness';
import type { LabState } from '../../lab/src/state.ts';
import { renderTextImage } from '../../app/test/text-images.ts';
import { startLoad, summarize, type LoadRun, type LoadSummary } from '../../lab/src/testing/load.ts';
import { repoRoot } from '../actions.ts';

export const DEMO_APP = 'ocr';
export const DEMO_PORT = 8080;
export const DEMO_REPOSITORY = 'gangway/ocr';
/** The word the smoke test's OCR upload must read back. */
export const DEMO_WORD = 'Gangway';

export interface PipelineStep {
  name: string;
  run: ActionRun;
}

export interface PipelineResult {
  ok: boolean;
  version: string;
  imageRef: string;
  url: string;
  steps: PipelineStep[];
  /** The load that ran against the public port while a previous version was being replaced. */
  load?: LoadSummary;
  /** Every secret the pipeline handed to an action, by name (for leak checks). */
  secrets: Record<string, string>;
}

export interface PipelineOptions {
  lab: LabState;
  version: string;
  /** Extra deploy inputs (e.g. strategy). */
  deployInputs?: Record<string, string>;
  /** Called with progress lines. */
  log?: (line: string) => void;
  /** Run a steady load against the public port during deploy and smoke test when an old version answers. */
  loadDuringSwap?: boolean;
  /** The app's name and public port on the target (tests use their own so they never touch the demo's). */
  app?: string;
  port?: number;
}

function gitSha(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
  } catch {
    return '0'.repeat(40);
  }
}

async function sampleImage(): Promise<string> {
  const dir = path.join(repoRoot, 'lab', '.state', 'demo');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'sample.png');
  if (!existsSync(file)) {
    const image = await renderTextImage([`Shipped by ${DEMO_WORD}`, 'zero downtime deploys'], 'DejaVu Sans', 32);
    writeFileSync(file, image.png);
  }
  return path.relative(repoRoot, file);
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  const { lab, version } = options;
  const log = options.log ?? (() => undefined);
  const sha = gitSha();
  const privateKey = readFileSync(lab.target.privateKeyFile, 'utf8');
  const app = options.app ?? DEMO_APP;
  const port = options.port ?? DEMO_PORT;
  const url = `http://${lab.target.address}:${port}`;
  const secrets = { 'registry password': lab.registry.password, 'ssh private key': privateKey, 'vpn key': readFileSync(lab.vpn.key, 'utf8'), 'vpn tls-crypt': readFileSync(lab.vpn.tlsCrypt, 'utf8') };
  const job = new RunnerJob({
    workspace: repoRoot,
    github: {
      repository: 'gangway/gangway',
      sha,
      ref: 'refs/heads/main',
      eventName: 'push',
      event: { ref: 'refs/heads/main', after: sha, repository: { default_branch: 'main', html_url: 'https://github.com/gangway/gangway' } },
      workflow: 'deploy',
      job: 'deploy',
    },
  });
  const steps: PipelineStep[] = [];
  const action = (name: string): string => path.join(repoRoot, `action-${name}`);
  const step = async (name: string, fn: () => Promise<ActionRun>): Promise<ActionRun> => {
    log(`▶ ${name}`);
    const run = await fn();
    steps.push({ name, run });
    log(`${run.ok ? '✔' : '✘'} ${name} (${(run.durationMs / 1000).toFixed(1)} s)${run.ok ? '' : `: ${run.annotations.filter((a) => a.level === 'error').map((a) => a.message).join('; ')}`}`);
    return run;
  };
  const result: PipelineResult = { ok: false, version, imageRef: '', url, steps, secrets };
  let load: LoadRun | undefined;
  let vpnUp = false;
  let deployed = false;
  try {
    const build = await step('build', () =>
      job.main(action('build'), {
        inputs: {
          image: `${lab.registry.host}/${DEMO_REPOSITORY}`,
          file: 'app/Dockerfile',
          'build-args': `APP_VERSION=${version}\nGIT_SHA=${sha}`,
          'registry-username': lab.registry.username,
          'registry-password': lab.registry.password,
          'docker-host': lab.runner.dockerHost,
        },
        timeoutMs: 900_000,
      }),
    );
    result.imageRef = build.outputs['image-ref'] ?? '';
    if (!build.ok) return result;

    vpnUp = true;
    const vpn = await step('vpn-connect', () =>
      job.main(action('vpn-connect'), { inputs: { 'config-file': lab.vpn.configFile, 'check-host': `${lab.target.sshHost}:${lab.target.sshPort}`, 'connect-timeout': '30s' } }),
    );
    if (!vpn.ok) return result;

    if (options.loadDuringSwap && (await answers(`${url}/version`))) {
      log(`  steady load on ${url}/version while the new version goes in`);
      load = startLoad({ host: lab.target.address, port, path: '/version', clients: 8, rate: 60, maxMs: 600_000 });
    }

    deployed = true;
    const deploy = await step('deploy-ssh', () =>
      job.main(action('deploy-ssh'), {
        inputs: {
          host: lab.target.sshHost,
          port: String(lab.target.sshPort),
          username: lab.target.username,
          'private-key': privateKey,
          'known-hosts': lab.target.knownHosts,
          'docker-socket': lab.target.dockerSocket,
          app,
          image: result.imageRef,
          'registry-username': lab.registry.username,
          'registry-password': lab.registry.password,
          'container-port': '8080',
          publish: String(port),
          volumes: `${app}-data:/data`,
          ...(options.deployInputs ?? {}),
        },
        timeoutMs: 900_000,
      }),
    );
    if (!deploy.ok) return result;

    const upload = await sampleImage();
    const smoke = await step('smoke-test', () =>
      job.main(action('smoke-test'), {
        inputs: {
          url,
          'expect-version': version,
          checks: [
            '- path: /readyz',
            '- path: /version',
            '  json:',
            `    version: { equals: "${version}" }`,
            '- path: /api/v1/ocr',
            `  upload: ${upload}`,
            `  matches: "${DEMO_WORD}"`,
          ].join('\n'),
          deadline: '2m',
        },
      }),
    );
    result.ok = smoke.ok;
    return result;
  } finally {
    if (load) result.load = summarize(await load.stop());
    if (deployed) await step('deploy-ssh (post)', () => job.post(action('deploy-ssh')));
    if (vpnUp) await step('vpn-connect (post)', () => job.post(action('vpn-connect')));
    job.cleanup();
  }
}

/** A job summary (HTML/Markdown) as plain text for a terminal. */
export function summaryAsText(summary: string): string {
  return summary
    .replace(/<\/(th|td)>\s*/g, ' │ ')
    .replace(/<\/tr>/g, '\n')
    .replace(/<li>/g, '- ')
    .replace(/<\/(li|p|ul|ol|pre|details|summary)>/g, '\n')
    .replace(/<h\d>(.*?)<\/h\d>/g, '\n$1\n')
    .replace(/<br\s*\/?>/g, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
