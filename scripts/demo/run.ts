// npm run demo: the lab up, then .github/workflows/deploy.yml itself, run by the local workflow
// runner (packages/workflow-runner) as GitHub would run it after a green CI run of main: plan →
// build → VPN → deploy → smoke test → notify, on the dist bundles, against the lab's first
// target, with a local GitHub API for the deployment records and the failure issue. Each run
// deploys a new commit (an empty one on top of this checkout's HEAD, in lab/.state/demo/repo),
// so the second run swaps versions while a steady load runs against the public port from inside
// the target, and the failed requests are counted. The app stays up until `npm run lab:down`.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatRun, summaryAsText, workflowRunEvent } from '@gangway/workflow-runner';
import { labUp } from '../../lab/src/index.ts';
import { FixtureRepository, openWorkflowLab, REPOSITORY } from '../../test/support/workflow-lab.ts';
import { repoRoot } from '../actions.ts';

const PORT = 8080; // deploy.yml's publish
const demoDir = path.join(repoRoot, 'lab', '.state', 'demo');
const counterFile = path.join(demoDir, 'runs.json');

function nextRun(): number {
  mkdirSync(demoDir, { recursive: true });
  const previous = existsSync(counterFile) ? (JSON.parse(readFileSync(counterFile, 'utf8')) as { runs: number }).runs : 0;
  writeFileSync(counterFile, JSON.stringify({ runs: previous + 1 }));
  return previous + 1;
}

const started = performance.now();
await labUp();
const wl = await openWorkflowLab({ target: 1 });
let ok: boolean;
try {
  const run = nextRun();
  const repo = new FixtureRepository(path.join(demoDir, 'repo'));
  const sha = repo.commit(`demo run ${run}`);
  const before = await wl.answering(PORT);
  const serving = before.gitSha !== undefined;
  console.log(`\n━━ demo run ${run}: .github/workflows/deploy.yml for commit ${sha.slice(0, 12)}, to ${wl.target.name} (${wl.target.address}) through the VPN`);
  console.log(serving ? `   now serving ${before.gitSha?.slice(0, 12)}: a steady load runs against :${PORT} from inside the target while the new version goes in\n` : '   nothing serving yet: the first deployment (run again to swap versions under load)\n');
  const recorded = await wl.run(`demo ${run}`, {
    workflow: path.join(repoRoot, '.github', 'workflows', 'deploy.yml'),
    event: workflowRunEvent({ repository: { fullName: REPOSITORY }, workflow: 'CI', headSha: sha, defaultSha: sha, conclusion: 'success' }),
    settings: wl.settings('ocr'),
    repository: repo.dir,
    ...(serving ? { load: { port: PORT } } : {}),
    log: (line) => console.log(line),
  });
  for (const job of recorded.run.jobs) {
    for (const step of job.steps) {
      const text = summaryAsText(step.run?.summary ?? '');
      if (text !== '') console.log(`\n── summary: ${job.name} › ${step.name}\n${text}`);
    }
  }
  const after = await wl.answering(PORT);
  console.log(`\n━━ result\n${formatRun(recorded.run)}`);
  console.log(`\nanswering    ${after.gitSha ?? after.error} (version ${after.version ?? '?'})`);
  if (recorded.load) {
    const l = recorded.load.summary;
    console.log(`during swap  ${l.failed} failed of ${l.total} requests (${l.rate} req/s, p99 ${l.p99} ms), from ${before.gitSha?.slice(0, 12)} to ${after.gitSha?.slice(0, 12) ?? after.error}`);
    for (const f of recorded.load.failures.slice(0, 5)) console.log(`             failed at +${f.at} ms: ${f.error}`);
  } else {
    console.log('during swap  (first deployment: nothing was serving before, so no load ran)');
  }
  console.log(`GitHub API   ${recorded.apiCalls.join(', ') || 'none'}`);
  console.log(`took         ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(`\nThe app answers at http://${wl.target.address}:${PORT}/ on the target, reachable only through the lab VPN:`);
  console.log(`  openvpn --config ${wl.target.vpn.configFile}   # then open http://${wl.target.address}:${PORT}/`);
  console.log('Run `npm run demo` again to swap in a new version with zero downtime; `npm run lab:down` ends it all.');
  ok = recorded.run.conclusion === 'success' && after.gitSha === sha && (recorded.load?.summary.failed ?? 0) === 0;
} finally {
  await wl.close();
}
process.exit(ok ? 0 : 1);
