import {
  buildkitStatusOf,
  builtImageIdOf,
  engineErrorMessage,
  engineStatusCode,
  messageError,
  type BuildkitVertex,
  type ProgressMessage,
} from '@gangway/kit';
import type { BuildEngine, BuildRequest } from './engine.ts';

/** One step of the build as a person reads it: `[2/5] RUN npm ci`. */
export interface BuildStep {
  name: string;
  cached: boolean;
  durationMs?: number;
  error?: string;
}

export interface BuildOutcome {
  imageId: string;
  builder: 'buildkit' | 'classic';
  steps: BuildStep[];
  cachedSteps: number;
  /** Cache sources that could not be used (missing tag, no access), with the engine's reason. */
  cacheMisses: string[];
  durationMs: number;
}

/** A build that failed: the failing step and its last lines of output are in the message. */
export class BuildFailedError extends Error {
  readonly step: string | undefined;
  readonly output: string;

  constructor(message: string, step: string | undefined, output: string) {
    super(message);
    this.name = 'BuildFailedError';
    this.step = step;
    this.output = output;
  }
}

const TAIL_LINES = 60;

function tail(lines: string[], n = TAIL_LINES): string[] {
  return lines.length > n ? [`… (${lines.length - n} earlier lines in the log above)`, ...lines.slice(-n)] : lines;
}

/** Dockerfile steps, not BuildKit's internal bookkeeping (`[internal] load …`, exporting). */
function isDockerfileStep(name: string): boolean {
  return /^\[[^\]]*\d+\/\d+\] /.test(name);
}

interface VertexState {
  index: number;
  vertex: BuildkitVertex;
  lines: string[];
  partial: string;
  announced: boolean;
  finished: boolean;
}

/**
 * Follows a build's progress stream (BuildKit traces or the classic builder's text),
 * prints it as the docker CLI's plain progress does, counts cached steps, and turns a
 * failure into a BuildFailedError that carries the failing step's output.
 */
export class BuildProgress {
  readonly #print: (line: string) => void;
  readonly #vertexes = new Map<string, VertexState>();
  readonly #classicSteps: Array<{ name: string; cached: boolean; lines: string[] }> = [];
  #classicPartial = '';
  #imageId: string | undefined;
  #error: string | undefined;

  constructor(print: (line: string) => void) {
    this.#print = print;
  }

  get imageId(): string | undefined {
    return this.#imageId;
  }

  handle(message: ProgressMessage): void {
    const id = builtImageIdOf(message);
    if (id && (message as { id?: string }).id !== 'moby.buildkit.trace') this.#imageId = id;
    const status = buildkitStatusOf(message);
    if (status) {
      for (const v of status.vertexes) this.#onVertex(v);
      for (const log of status.logs) this.#onLog(log.vertex, log.message);
      for (const w of status.warnings) this.#print(`WARNING: ${w.message.trim()}`);
      return;
    }
    if (typeof message.stream === 'string') this.#onClassicText(message.stream);
    else if (typeof message.status === 'string' && message.status.trim() !== '') this.#print(message.status.trim());
    const error = messageError(message);
    if (error) this.#error = error;
  }

  #state(digest: string): VertexState {
    let s = this.#vertexes.get(digest);
    if (!s) {
      s = { index: this.#vertexes.size + 1, vertex: { digest, inputs: [], name: '', cached: false }, lines: [], partial: '', announced: false, finished: false };
      this.#vertexes.set(digest, s);
    }
    return s;
  }

  #onVertex(v: BuildkitVertex): void {
    const s = this.#state(v.digest);
    s.vertex = { ...s.vertex, ...v, inputs: v.inputs.length ? v.inputs : s.vertex.inputs, name: v.name || s.vertex.name };
    if (!s.announced && (v.started !== undefined || v.cached)) {
      s.announced = true;
      this.#print(`#${s.index} ${s.vertex.name}`);
    }
    if (!s.finished && (v.completed !== undefined || v.error)) {
      s.finished = true;
      this.#flushPartial(s);
      if (v.error) this.#print(`#${s.index} ERROR: ${v.error}`);
      else if (v.cached) this.#print(`#${s.index} CACHED`);
      else if (v.started !== undefined && v.completed !== undefined) this.#print(`#${s.index} DONE ${((v.completed - v.started) / 1000).toFixed(1)}s`);
      else this.#print(`#${s.index} DONE`);
    }
  }

  #onLog(digest: string, text: string): void {
    const s = this.#state(digest);
    const lines = (s.partial + text).split(/\r?\n/);
    s.partial = lines.pop() ?? '';
    for (const line of lines) {
      s.lines.push(line);
      this.#print(`#${s.index} ${line}`);
    }
  }

  #flushPartial(s: VertexState): void {
    if (s.partial !== '') {
      s.lines.push(s.partial);
      this.#print(`#${s.index} ${s.partial}`);
      s.partial = '';
    }
  }

  #onClassicText(text: string): void {
    const lines = (this.#classicPartial + text).split('\n');
    this.#classicPartial = lines.pop() ?? '';
    for (const raw of lines) {
      const line = raw.replace(/\r$/, '');
      const step = /^Step (\d+\/\d+) : (.*)$/.exec(line);
      if (step) this.#classicSteps.push({ name: `[${step[1]}] ${step[2]}`, cached: false, lines: [] });
      else {
        const current = this.#classicSteps.at(-1);
        if (current && /^ ---> Using cache$/.test(line)) current.cached = true;
        else if (current && !/^ ---> /.test(line) && !/^Removing intermediate container/.test(line)) current.lines.push(line);
      }
      if (line.trim() !== '') this.#print(line);
    }
  }

  steps(): BuildStep[] {
    if (this.#vertexes.size > 0) {
      return [...this.#vertexes.values()]
        .filter((s) => isDockerfileStep(s.vertex.name))
        .map((s) => ({
          name: s.vertex.name,
          cached: s.vertex.cached,
          ...(s.vertex.started !== undefined && s.vertex.completed !== undefined ? { durationMs: s.vertex.completed - s.vertex.started } : {}),
          ...(s.vertex.error ? { error: s.vertex.error } : {}),
        }));
    }
    return this.#classicSteps.map((s) => ({ name: s.name, cached: s.cached }));
  }

  /** Cache sources that could not be imported: the build goes on without them. */
  cacheMisses(): string[] {
    return [...this.#vertexes.values()].filter((s) => isCacheImport(s.vertex.name) && s.vertex.error).map((s) => `${s.vertex.name.replace(/^importing cache manifest from /, '')}: ${s.vertex.error}`);
  }

  /**
   * Throws the build's failure, if it failed (the engine ends a failed build with an error
   * message), with the failing step and its output.
   */
  throwIfFailed(): void {
    for (const s of this.#vertexes.values()) this.#flushPartial(s);
    if (this.#error === undefined) return;
    const failed = [...this.#vertexes.values()].find((s) => s.vertex.error && !isCacheImport(s.vertex.name) && !/context canceled/.test(s.vertex.error));
    if (failed) {
      const output = tail(failed.lines).join('\n');
      throw new BuildFailedError(
        `The build failed at step ${failed.vertex.name}: ${describeBuildError(failed.vertex.error ?? this.#error)}${output ? `\nOutput of that step:\n${output}` : ''}`,
        failed.vertex.name,
        output,
      );
    }
    const step = this.#classicSteps.at(-1);
    if (step) {
      const output = tail(step.lines.filter((l) => l.trim() !== '')).join('\n');
      throw new BuildFailedError(`The build failed at step ${step.name}: ${this.#error.trim()}${output ? `\nOutput of that step:\n${output}` : ''}`, step.name, output);
    }
    throw new BuildFailedError(`The build failed: ${describeBuildError(this.#error.trim())}`, undefined, '');
  }
}

function isCacheImport(name: string): boolean {
  return name.startsWith('importing cache manifest from ');
}

/** Makes the engine's wording of the common failures say what to fix. */
export function describeBuildError(message: string): string {
  const parse = /Dockerfile parse error (?:on )?line (\d+): (.*)$/i.exec(message);
  if (parse) return `the Dockerfile has a syntax error at line ${parse[1]}: ${parse[2]}`;
  if (/target stage .* could not be found|failed to reach build target/i.test(message)) return `${message} (check the "target" / "test-target" inputs against the Dockerfile's stage names)`;
  return message;
}

/** Runs one build and returns the image id and what was cached. */
export async function runBuild(engine: BuildEngine, request: BuildRequest, print: (line: string) => void): Promise<BuildOutcome> {
  const started = performance.now();
  const progress = new BuildProgress(print);
  try {
    for await (const message of engine.build(request)) progress.handle(message);
  } catch (error) {
    progress.throwIfFailed();
    // The classic builder refuses a bad Dockerfile or target with HTTP 400 before streaming.
    if (engineStatusCode(error) === 400) throw new BuildFailedError(`The build failed: ${describeBuildError(engineErrorMessage(error))}`, undefined, '');
    throw error;
  }
  progress.throwIfFailed();
  const imageId = progress.imageId;
  if (!imageId) throw new BuildFailedError('The engine finished the build without reporting an image id.', undefined, '');
  const steps = progress.steps();
  return { imageId, builder: request.builder, steps, cachedSteps: steps.filter((s) => s.cached).length, cacheMisses: progress.cacheMisses(), durationMs: Math.round(performance.now() - started) };
}
