// Messages between the main thread and an OCR worker thread.
import type { ExecutionProviderName, ProviderChoice } from './execution-provider.ts';
import type { ModelPaths } from './model-paths.ts';
import type { OcrEngineOptions, OcrLine, OcrTimings } from './engine.ts';

export interface OcrWorkerData {
  paths: ModelPaths;
  engine: Partial<OcrEngineOptions>;
  maxImagePixels: number;
  /** Execution providers to try in order (chooseExecutionProviders). */
  providers: ProviderChoice;
}

export interface OcrJob {
  type: 'job';
  id: number;
  bytes: Uint8Array;
}

/** Asks the worker to release its ONNX sessions and end by itself (terminating it mid-inference can abort the process). */
export interface OcrWorkerStop {
  type: 'stop';
}

export interface OcrJobSuccess {
  id: number;
  ok: true;
  width: number;
  height: number;
  lines: OcrLine[];
  timings: OcrTimings & { decodeMs: number };
}

export interface OcrJobFailure {
  id: number;
  ok: false;
  /** `decode` when the bytes are not a decodable image (a client error); `internal` otherwise. */
  kind: 'decode' | 'internal';
  message: string;
}

export type OcrWorkerMessage =
  | { type: 'ready'; loadMs: number; warmUpMs: number; modelSource: ModelPaths['source']; provider: ExecutionProviderName; providerNote?: string }
  | { type: 'result'; result: OcrJobSuccess | OcrJobFailure };
