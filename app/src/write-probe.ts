// Whether the database accepts writes, proven by a heartbeat row written at a bounded rate.
// /readyz is polled by Docker, the deployer and proxies: it must not write on every call.

export interface WriteProbeOptions {
  /** How long a successful write stands for the volume being writable, in ms. */
  okForMs?: number;
  /** How long a failed write is reported before the next attempt, in ms (shorter: recover soon). */
  failedForMs?: number;
  now?: () => number;
}

export class DatabaseWriteProbe {
  readonly #write: () => void;
  readonly #okForMs: number;
  readonly #failedForMs: number;
  readonly #now: () => number;
  #last: { at: number; status: string } | undefined;

  constructor(write: () => void, options: WriteProbeOptions = {}) {
    this.#write = write;
    this.#okForMs = options.okForMs ?? 10_000;
    this.#failedForMs = options.failedForMs ?? 2_000;
    this.#now = options.now ?? Date.now;
  }

  /** `ok`, or `not writable: <reason>`; writes only when the last result is older than its interval. */
  status(): string {
    const now = this.#now();
    const last = this.#last;
    if (last && now - last.at < (last.status === 'ok' ? this.#okForMs : this.#failedForMs)) return last.status;
    let status = 'ok';
    try {
      this.#write();
    } catch (error) {
      status = `not writable: ${(error as Error).message}`;
    }
    this.#last = { at: now, status };
    return status;
  }
}
