// npm run bench [-- app build deploy]: runs the benchmarks one after another (they measure
// ratios side by side within one run, so they must not share the machine with each other).
// Each prints its table and writes bench/results/<name>.json. build and deploy need the lab.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const benchDir = import.meta.dirname;
const available = readdirSync(benchDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(benchDir, d.name, `bench-${d.name}.ts`)))
  .map((d) => d.name)
  .sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length > 0) {
  console.error(`no benchmark named ${unknown.join(', ')}; there are: ${available.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length > 0 ? wanted : available) {
  console.log(`\n━━ bench ${name}`);
  const result = spawnSync(process.execPath, [path.join(benchDir, name, `bench-${name}.ts`)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.error(`bench ${name} failed (exit ${result.status})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
