// Setup file of every vitest project (issue #10, case 9): after each test file, every action
// run any test in it started through the runner harness is swept for every secret it was
// given. A leak fails the file, naming the action, the place and the secret's label (never
// its value).
import { appendFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { sweepSecrets, takeRecordedRuns } from '@gangway/kit/harness';

afterAll(() => {
  const result = sweepSecrets(takeRecordedRuns());
  if (result.runs === 0) return;
  // One line a file, for the counts in reports (GANGWAY_SECRET_SWEEP_LOG=path collects them).
  const line = `secret sweep: ${result.runs} action runs, ${result.secrets} secret values, ${result.leaks.length} leaks`;
  const logFile = process.env['GANGWAY_SECRET_SWEEP_LOG'];
  if (logFile) appendFileSync(logFile, `${JSON.stringify({ runs: result.runs, secrets: result.secrets, leaks: result.leaks.length })}\n`);
  console.log(line);
  if (result.leaks.length > 0) {
    const where = result.leaks.map((l) => `  ${l.action} ${l.where} line ${l.line}: ${l.secret}\n    ${l.context}`).join('\n');
    throw new Error(`${line}:\n${where}`);
  }
});
