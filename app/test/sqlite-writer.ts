// Child process for sqlite-writers.test.ts: opens the shared database (running migrations) and inserts results.
// Usage: node sqlite-writer.ts DATA_DIR COUNT INSTANCE START_AT_EPOCH_MS
import { openDatabase } from '../src/db.ts';
import { newResultToken } from '../src/result-token.ts';
import { ResultStore } from '../src/results-store.ts';

const [dataDir, countArg, instance, startAt] = process.argv.slice(2);
if (!dataDir || !countArg || !instance) throw new Error('usage: sqlite-writer.ts DATA_DIR COUNT INSTANCE START_AT_EPOCH_MS');
// Both writers start together, so they also race to migrate the fresh database.
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt ?? 0) - Date.now())));
const opened = openDatabase(dataDir);
const store = new ResultStore(opened.db);
const tokens: string[] = [];
for (let i = 0; i < Number(countArg); i++) {
  const token = newResultToken();
  store.insert({
    token,
    createdAt: Date.now(),
    imageFormat: 'png',
    imageFile: null,
    imageBytes: 100,
    width: 10,
    height: 10,
    lines: [{ text: `${instance} row ${i}`, confidence: 0.99, box: [[0, 0], [1, 0], [1, 1], [0, 1]] }],
    timings: { queueMs: 0, decodeMs: 1, detectMs: 1, recognizeMs: 1, sessionRunMs: 1, inferenceMs: 3, totalMs: 4 },
    appVersion: instance,
    instance,
  });
  if (i % 50 === 0) store.stats();
  tokens.push(token);
}
opened.db.close();
process.stdout.write(JSON.stringify({ instance, applied: opened.applied, tokens }));
