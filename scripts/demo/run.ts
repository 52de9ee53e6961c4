// npm run demo: the lab up, then the deploy workflow's sequence on it — build, VPN, deploy,
// smoke test — through the runner harness on the dist bundles, each step's summary printed.
// The app stays up until `npm run lab:down`. Run it again: a new version is swapped in while a
// steady load runs against the public port, and the failed requests are counted.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { labUp } from '../../lab/src/index.ts';
import { repoRoot } from '../actions.ts';
import { runPipeline, summaryAsText } from './pipeline.ts';

const counterFile = path.join(repoRoot, 'lab', '.state', 'demo', 'runs.json');

function nextVersion(): { run: number; version: string } {
  mkdirSync(path.dirname(counterFile), { recursive: true });
  const previous = existsSync(counterFile) ? (JSON.parse(readFileSync(counterFile, 'utf8')) as { runs: number }).runs : 0;
  const run = previous + 1;
  writeFileSync(counterFile, JSON.stringify({ runs: run }));
  return { run, version: `1.0.${run}` };
}

const started = performance.now();
const lab = await labUp();
const { run, version } = nextVersion();
console.log(`\n━━ demo run ${run}: deploying version ${version} of the OCR app to ${lab.target.name} (${lab.target.address}) through the VPN\n`);
const result = await runPipeline({ lab, version, loadDuringSwap: true, log: (line) => console.log(line) });

for (const { name, run: step } of result.steps) {
  const text = summaryAsText(step.summary);
  if (text === '') continue;
  console.log(`\n── summary: ${name}\n${text}`);
}

console.log('\n━━ result');
console.log(`version      ${version}`);
console.log(`image        ${result.imageRef || '(not built)'}`);
console.log(`pipeline     ${result.ok ? 'passed' : 'FAILED'}`);
if (result.load) {
  const l = result.load;
  console.log(`during swap  ${l.failed} failed of ${l.total} requests (${l.rate} req/s, p99 ${l.p99} ms, ${l.resent} resent on a closed keep-alive connection), versions seen: ${JSON.stringify(l.versions)}`);
  for (const f of l.firstFailures) console.log(`             failed at +${f.at} ms: ${f.error}`);
} else {
  console.log('during swap  (first deployment: nothing was serving before, so no load ran)');
}
console.log(`took         ${((performance.now() - started) / 1000).toFixed(1)} s`);
console.log(`\nThe app answers at ${result.url} on the target, which is reachable only through the lab VPN:`);
console.log(`  openvpn --config ${lab.vpn.configFile}   # then open ${result.url}/`);
console.log('Run `npm run demo` again to swap in a new version with zero downtime; `npm run lab:down` ends it all.');
process.exit(result.ok && (result.load?.failed ?? 0) === 0 ? 0 : 1);
