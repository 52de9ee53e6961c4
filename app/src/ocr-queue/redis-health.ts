// Whether Redis answers, checked in the background (PING every second, 1 s timeout): /readyz reads the
// last result and never waits on Redis itself.
import type { Redis } from 'ioredis';

export class RedisHealth {
  readonly #client: () => Promise<Redis>;
  readonly #intervalMs: number;
  #status = 'connecting';
  #timer: NodeJS.Timeout | undefined;
  #checking = false;
  /** Called when the status changes (for one log line per change, not one per check). */
  onChange: (status: string, previous: string) => void = () => undefined;

  constructor(client: () => Promise<Redis>, intervalMs = 1000) {
    this.#client = client;
    this.#intervalMs = intervalMs;
  }

  /** `ok`, or why not (`unreachable: …`, `connecting`). */
  get status(): string {
    return this.#status;
  }

  get ok(): boolean {
    return this.#status === 'ok';
  }

  start(): void {
    void this.check();
    this.#timer = setInterval(() => void this.check(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async check(): Promise<string> {
    if (this.#checking) return this.#status;
    this.#checking = true;
    let status: string;
    try {
      const client = await Promise.race([this.#client(), timeout(1000, 'no connection yet')]);
      if (client.status !== 'ready') {
        status = `unreachable: connection ${client.status}`;
      } else {
        await Promise.race([client.ping(), timeout(1000, 'PING timed out after 1 s')]);
        status = 'ok';
      }
    } catch (error) {
      status = `unreachable: ${(error as Error).message.split('\n')[0]}`;
    } finally {
      this.#checking = false;
    }
    if (status !== this.#status) {
      const previous = this.#status;
      this.#status = status;
      this.onChange(status, previous);
    }
    return status;
  }
}

function timeout(ms: number, message: string): Promise<never> {
  return new Promise((_resolve, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}
