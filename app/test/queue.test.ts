import { describe, expect, it } from 'vitest';
import { InferenceQueue, QueueFullError } from '../src/queue.ts';

describe('InferenceQueue', () => {
  it('runs at most `concurrency` tasks, queues up to `maxWaiting`, refuses the rest', async () => {
    const queue = new InferenceQueue(2, 1);
    let running = 0;
    let peak = 0;
    const releases: (() => void)[] = [];
    const task = () =>
      new Promise<number>((resolve) => {
        running++;
        peak = Math.max(peak, running);
        releases.push(() => {
          running--;
          resolve(peak);
        });
      });
    const accepted = [queue.run(task), queue.run(task), queue.run(task)];
    expect(queue.snapshot()).toMatchObject({ running: 2, waiting: 1 });
    await expect(queue.run(task)).rejects.toBeInstanceOf(QueueFullError);
    while (releases.length) {
      releases.shift()!();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await Promise.all(accepted);
    expect(peak).toBe(2);
    await queue.drained();
    expect(queue.snapshot()).toMatchObject({ running: 0, waiting: 0 });
  });

  it('keeps going after a task fails, and says when to retry', async () => {
    const queue = new InferenceQueue(1, 0);
    await expect(queue.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(queue.run(() => Promise.resolve(7))).resolves.toBe(7);
    let release: () => void = () => undefined;
    const blocker = queue.run(() => new Promise<void>((resolve) => (release = resolve)));
    const refused = await queue.run(() => Promise.resolve(1)).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(QueueFullError);
    expect((refused as QueueFullError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    release();
    await blocker;
  });
});
