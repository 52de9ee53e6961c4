// A bounded FIFO in front of the OCR workers: at most `concurrency` jobs run, at most `maxWaiting` wait, the rest are refused.

export class QueueFullError extends Error {
  override name = 'QueueFullError';
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('the inference queue is full');
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

interface Waiting {
  start: () => void;
}

export interface QueueSnapshot {
  running: number;
  waiting: number;
  concurrency: number;
  maxWaiting: number;
}

export class InferenceQueue {
  readonly #concurrency: number;
  readonly #maxWaiting: number;
  readonly #waiting: Waiting[] = [];
  #running = 0;
  /** Moving average of job durations, to tell refused clients when to come back. */
  #averageMs = 500;

  constructor(concurrency: number, maxWaiting: number) {
    if (concurrency < 1) throw new RangeError('concurrency must be at least 1');
    this.#concurrency = concurrency;
    this.#maxWaiting = maxWaiting;
  }

  /** Runs `task` when a slot is free; throws QueueFullError at once when the queue is full. */
  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#concurrency && this.#waiting.length >= this.#maxWaiting) {
      const backlog = this.#waiting.length + this.#running;
      return Promise.reject(new QueueFullError(Math.max(1, Math.ceil((backlog * this.#averageMs) / this.#concurrency / 1000))));
    }
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.#running++;
        const started = performance.now();
        task()
          .then(resolve, reject)
          .finally(() => {
            this.#averageMs = this.#averageMs * 0.8 + (performance.now() - started) * 0.2;
            this.#running--;
            this.#waiting.shift()?.start();
          });
      };
      if (this.#running < this.#concurrency) start();
      else this.#waiting.push({ start });
    });
  }

  snapshot(): QueueSnapshot {
    return { running: this.#running, waiting: this.#waiting.length, concurrency: this.#concurrency, maxWaiting: this.#maxWaiting };
  }

  /** Resolves once nothing runs or waits. */
  async drained(pollMs = 20): Promise<void> {
    while (this.#running > 0 || this.#waiting.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
}
