// The app's life stages as the probes see them: starting → ready → draining.

export class Lifecycle {
  #ready = false;
  #draining = false;
  #inFlight = 0;
  readonly #onDraining: (() => void)[] = [];

  get ready(): boolean {
    return this.#ready && !this.#draining;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  markReady(): void {
    this.#ready = true;
  }

  startDraining(): void {
    this.#draining = true;
    for (const listener of this.#onDraining.splice(0)) listener();
  }

  /** Calls `listener` once, when draining starts. */
  onDraining(listener: () => void): void {
    this.#onDraining.push(listener);
  }

  requestStarted(): void {
    this.#inFlight++;
  }

  requestFinished(): void {
    this.#inFlight--;
  }
}
