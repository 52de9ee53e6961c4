// Main-thread side of the OCR worker threads: starts them, hands each job to an idle one, reports health.
import { Worker } from 'node:worker_threads';
import type { AppConfig } from '../config.ts';
import { chooseExecutionProviders, detectNvidiaGpu, type ExecutionProviderName, type ProviderChoice } from './execution-provider.ts';
import { resolveModelPaths } from './model-paths.ts';
import type { OcrJob, OcrJobSuccess, OcrWorkerData, OcrWorkerMessage, OcrWorkerStop } from './worker-protocol.ts';

export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}

export class OcrWorkerError extends Error {
  override name = 'OcrWorkerError';
}

interface Pending {
  resolve: (result: OcrJobSuccess) => void;
  reject: (error: Error) => void;
}

interface WorkerSlot {
  worker: Worker;
  pending: Map<number, Pending>;
  alive: boolean;
}

export interface OcrWorkerPoolStatus {
  size: number;
  alive: number;
  busy: number;
}

export interface WorkerReadyInfo {
  loadMs: number;
  warmUpMs: number;
  modelSource: string;
  provider: ExecutionProviderName;
  providerNote?: string;
}

export interface StartedOcrWorkerPool {
  pool: OcrWorkerPool;
  ready: WorkerReadyInfo[];
}

export class OcrWorkerPool {
  readonly #slots: WorkerSlot[] = [];
  readonly #idle: WorkerSlot[] = [];
  #nextId = 1;
  #closing = false;
  /** Called when a worker dies after it was ready (the pool then reports unhealthy). */
  onWorkerDeath: (error: Error) => void = () => undefined;

  /** Starts `size` workers and resolves once each has loaded the models and run its warm-up. */
  static async start(size: number, data: OcrWorkerData): Promise<StartedOcrWorkerPool> {
    const pool = new OcrWorkerPool();
    const ready = await Promise.all(Array.from({ length: size }, () => pool.#spawn(data)));
    return { pool, ready };
  }

  #spawn(data: OcrWorkerData): Promise<WorkerReadyInfo> {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: data });
    const slot: WorkerSlot = { worker, pending: new Map(), alive: true };
    this.#slots.push(slot);
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (message: OcrWorkerMessage) => {
        if (message.type === 'ready') {
          started = true;
          this.#idle.push(slot);
          resolve({
            loadMs: message.loadMs,
            warmUpMs: message.warmUpMs,
            modelSource: message.modelSource,
            provider: message.provider,
            ...(message.providerNote ? { providerNote: message.providerNote } : {}),
          });
          return;
        }
        const { result } = message;
        const pending = slot.pending.get(result.id);
        if (!pending) return;
        slot.pending.delete(result.id);
        if (slot.alive && !this.#closing) this.#idle.push(slot);
        if (result.ok) pending.resolve(result);
        else pending.reject(result.kind === 'decode' ? new ImageDecodeError(result.message) : new OcrWorkerError(result.message));
      });
      const fail = (error: Error) => {
        const wasAlive = slot.alive;
        slot.alive = false;
        const idleIndex = this.#idle.indexOf(slot);
        if (idleIndex >= 0) this.#idle.splice(idleIndex, 1);
        for (const pending of slot.pending.values()) pending.reject(error);
        slot.pending.clear();
        if (!started) reject(error);
        else if (wasAlive && !this.#closing) this.onWorkerDeath(error);
      };
      worker.on('error', (error: Error) => fail(error));
      worker.on('exit', (code) => fail(new OcrWorkerError(`OCR worker exited with code ${code}`)));
    });
  }

  /** Runs one job. The caller (the inference queue) never runs more jobs at once than there are workers. */
  recognize(bytes: Uint8Array): Promise<OcrJobSuccess> {
    const slot = this.#closing ? undefined : this.#idle.pop();
    if (!slot) return Promise.reject(new OcrWorkerError(this.#closing ? 'the OCR workers are stopping' : 'no idle OCR worker'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      const job: OcrJob = { type: 'job', id, bytes };
      slot.worker.postMessage(job);
    });
  }

  status(): OcrWorkerPoolStatus {
    const alive = this.#slots.filter((slot) => slot.alive).length;
    return { size: this.#slots.length, alive, busy: this.#slots.filter((slot) => slot.pending.size > 0).length };
  }

  get healthy(): boolean {
    return this.#slots.length > 0 && this.#slots.every((slot) => slot.alive);
  }

  /**
   * Stops every worker after the job it has in hand: the worker releases its sessions and exits by itself.
   * A worker still busy after `timeoutMs` is terminated.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    this.#closing = true;
    this.#idle.length = 0;
    await Promise.all(
      this.#slots.map(async (slot) => {
        if (!slot.alive) return;
        const exited = new Promise<void>((resolve) => slot.worker.once('exit', () => resolve()));
        const stop: OcrWorkerStop = { type: 'stop' };
        slot.worker.postMessage(stop);
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), timeoutMs);
        });
        if (await Promise.race([exited.then(() => false), timedOut])) await slot.worker.terminate();
        clearTimeout(timer);
      }),
    );
  }
}

/** Starts the pool the app's config asks for: OCR_WORKERS threads, models from MODELS_DIR or the bundled package. */
export function startOcrWorkers(config: AppConfig, gpu = detectNvidiaGpu()): Promise<StartedOcrWorkerPool> {
  let providers: ProviderChoice;
  try {
    // OCR_PROVIDER=cuda without a GPU stops here, before any thread starts.
    providers = chooseExecutionProviders(config.ocrProvider, gpu);
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
  return OcrWorkerPool.start(config.ocrWorkers, {
    paths: resolveModelPaths(config.modelsDir),
    engine: { detMaxSide: config.detMaxSide, intraOpThreads: config.ocrThreads },
    maxImagePixels: config.maxImagePixels,
    providers,
  });
}
