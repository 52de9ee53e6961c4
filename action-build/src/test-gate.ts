import { errorMessage } from '@gangway/kit';
import { BuildFailedError, runBuild, type BuildOutcome } from './build.ts';
import type { BuildEngine, BuildRequest } from './engine.ts';

export interface TestGateOutcome {
  target?: { name: string; durationMs: number; cachedSteps: number; steps: number };
  command?: { argv: string[]; exitCode: number; durationMs: number };
}

/** The image failed its tests: nothing is tagged or pushed after this. */
export class TestGateFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TestGateFailedError';
  }
}

const OUTPUT_LINES = 60;

/**
 * The gate between build and push: the Dockerfile's test stage (`test-target`) is built,
 * which runs its lint and test steps; then `test-command` runs in the built image. Either
 * failing throws, before anything is tagged or pushed.
 */
export async function runTestGate(
  engine: BuildEngine,
  options: {
    imageId: string;
    testTarget: string | undefined;
    testCommand: string[] | undefined;
    /** A build request for the test stage (a fresh context stream each call). */
    testTargetRequest: (target: string) => BuildRequest;
    print: (line: string) => void;
    signal?: AbortSignal;
  },
): Promise<TestGateOutcome> {
  const outcome: TestGateOutcome = {};
  if (options.testTarget !== undefined) {
    let built: BuildOutcome;
    try {
      built = await runBuild(engine, options.testTargetRequest(options.testTarget), options.print);
    } catch (error) {
      if (error instanceof BuildFailedError) {
        throw new TestGateFailedError(`The test stage "${options.testTarget}" failed, so nothing was pushed. ${error.message}`);
      }
      throw error;
    }
    outcome.target = { name: options.testTarget, durationMs: built.durationMs, cachedSteps: built.cachedSteps, steps: built.steps.length };
  }
  if (options.testCommand !== undefined) {
    const started = performance.now();
    options.print(`$ ${options.testCommand.join(' ')}`);
    let result: { exitCode: number; output: string };
    try {
      result = await engine.run(options.imageId, options.testCommand, options.signal);
    } catch (error) {
      throw new TestGateFailedError(`The test command could not run in the image, so nothing was pushed: ${errorMessage(error)}`);
    }
    const lines = result.output.replace(/\n$/, '').split('\n');
    for (const line of lines) options.print(line);
    if (result.exitCode !== 0) {
      const shown = lines.length > OUTPUT_LINES ? lines.slice(-OUTPUT_LINES) : lines;
      throw new TestGateFailedError(`The test command exited with ${result.exitCode}, so nothing was pushed. Its output:\n${shown.join('\n')}`);
    }
    outcome.command = { argv: options.testCommand, exitCode: result.exitCode, durationMs: Math.round(performance.now() - started) };
  }
  return outcome;
}
