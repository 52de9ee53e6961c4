// Setup file of every vitest project (issue #10, case 9): after each test file, every action
// run any test in it started through the runner harness is swept for every secret it was
// given (the secret inputs its action's `test/secrets.ts` declares, and whatever it masked).
// A leak fails the file, naming the action, the place and the secret's label (never its
// value). The harness knows nothing of this file: it reports each step to onActionRun.
import { appendFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { onActionRun, SecretSweep } from '@gangway/harness';

const sweep = new SecretSweep();
const stopRecording = onActionRun(sweep.record);

afterAll(async () => {
  stopRecording();
  const result = await sweep.sweep();
  if (result.runs === 0) return;
  // One line a file, for the counts in reports (GANGWAY_SECRET_SWEEP_LOG=path collects them).
  const line = `secret sweep: ${result.runs} action runs, ${result.secrets} secret values, ${result.leaks.length} leaks`;
  const logFile = process.env['GANGWAY_SECRET_SWEEP_LOG'];
  if (logFile) appendFileSync(logFile, `${JSON.stringify({ runs: result.runs, secrets: result.secrets, leaks: result.leaks.length })}\n`);
  console.log(result.undeclared.length > 0 ? `${line} (no test/secrets.ts, masks only: ${result.undeclared.join(', ')})` : line);
  if (result.leaks.length > 0) {
    const where = result.leaks.map((l) => `  ${l.action} ${l.where} line ${l.line}: ${l.secret}\n    ${l.context}`).join('\n');
    throw new Error(`${line}:\n${where}`);
  }
});
