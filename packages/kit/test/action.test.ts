// runAction: a step cancelled by the runner never ends as a success, even when its work
// finished after the signal; a step not cancelled keeps its exit code.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runAction } from '../src/action.ts';

afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

function quietStdout(): string[] {
  const printed: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
  return printed;
}

describe('runAction', () => {
  it('fails a main step that finished its work after the job was cancelled', async () => {
    const printed = quietStdout();
    await runAction({
      main: async (signal) => {
        process.emit('SIGINT', 'SIGINT');
        expect(signal.aborted).toBe(true);
      },
    });
    expect(process.exitCode).toBe(1);
    expect(printed.join('')).toMatch(/::error::The job was cancelled \(SIGINT\); the step finished what it had started, and undid nothing\./);
  });

  it('leaves a step that was not cancelled as it ended', async () => {
    quietStdout();
    await runAction({ main: async () => undefined });
    expect(process.exitCode).toBeUndefined();
  });

  it('reports the error of a cancelled step that failed, once', async () => {
    const printed = quietStdout();
    await runAction({
      main: async (signal) => {
        process.emit('SIGTERM', 'SIGTERM');
        throw signal.reason;
      },
    });
    expect(process.exitCode).toBe(1);
    expect(printed.join('').match(/::error::/g)).toHaveLength(1);
  });
});
