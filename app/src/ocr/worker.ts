// Worker-thread entry: owns one OcrEngine so inference never blocks the HTTP event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { OcrEngine } from './engine.ts';
import { createWithProviders } from './execution-provider.ts';
import { decodeToRgb } from './raw-image.ts';
import type { OcrJob, OcrJobFailure, OcrJobSuccess, OcrWorkerData, OcrWorkerMessage, OcrWorkerStop } from './worker-protocol.ts';

if (!parentPort) throw new Error('ocr/worker.ts must run in a worker thread');
const port = parentPort;
const data = workerData as OcrWorkerData;

const loadStarted = performance.now();
const loaded = await createWithProviders(data.providers, (executionProvider) => OcrEngine.load(data.paths, { ...data.engine, executionProvider }));
const engine = loaded.value;
const loadMs = performance.now() - loadStarted;
const warmStarted = performance.now();
await engine.warmUp();
const ready: OcrWorkerMessage = { type: 'ready', loadMs, warmUpMs: performance.now() - warmStarted, modelSource: data.paths.source, provider: loaded.provider, ...(loaded.note ? { providerNote: loaded.note } : {}) };
port.postMessage(ready);

async function runJob(job: OcrJob): Promise<OcrJobSuccess | OcrJobFailure> {
  const started = performance.now();
  let image;
  try {
    image = await decodeToRgb(job.bytes, data.maxImagePixels);
  } catch (error) {
    return { id: job.id, ok: false, kind: 'decode', message: (error as Error).message };
  }
  const decodeMs = performance.now() - started;
  try {
    const output = await engine.recognize(image);
    return { id: job.id, ok: true, width: image.width, height: image.height, lines: output.lines, timings: { decodeMs, ...output.timings } };
  } catch (error) {
    return { id: job.id, ok: false, kind: 'internal', message: (error as Error).message };
  }
}

let running = Promise.resolve();

port.on('message', (message: OcrJob | OcrWorkerStop) => {
  if (message.type === 'stop') {
    // Let the job in hand finish, then free the sessions and let the thread end on its own.
    void running.then(async () => {
      await engine.release();
      port.close();
    });
    return;
  }
  running = runJob(message).then((result) => {
    const reply: OcrWorkerMessage = { type: 'result', result };
    port.postMessage(reply);
  });
});
