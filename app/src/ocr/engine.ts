// The OCR pipeline on ONNX Runtime: detection, then batched recognition of each detected line.
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import {
  DEFAULT_DETECTION_OPTIONS,
  detectionInputSize,
  detectionTensorData,
  regionsFromProbabilityMap,
  type DetectionOptions,
  type TextRegion,
} from './detection.ts';
import type { ExecutionProviderName } from './execution-provider.ts';
import type { ModelPaths } from './model-paths.ts';
import { cropAndResizeRgb, resizeRgb, type RgbImage } from './raw-image.ts';
import {
  decodeCtc,
  parseDictionary,
  recognitionTensorData,
  recognitionWidth,
  REC_HEIGHT,
  REC_MIN_WIDTH,
} from './recognition.ts';

/** Corners clockwise from top-left, in source-image pixels. */
export type Box = [[number, number], [number, number], [number, number], [number, number]];

export interface OcrLine {
  text: string;
  confidence: number;
  box: Box;
}

export interface OcrTimings {
  /** Resize + tensor + InferenceSession.run + box extraction. */
  detectMs: number;
  /** Crops + tensors + InferenceSession.run + CTC decoding. */
  recognizeMs: number;
  /** Time spent inside InferenceSession.run alone (both models). */
  sessionRunMs: number;
}

export interface OcrOutput {
  lines: OcrLine[];
  timings: OcrTimings;
}

export interface OcrEngineOptions {
  detMaxSide: number;
  /** Lines whose mean character confidence is below this are dropped (PaddleOCR drop_score). */
  minConfidence: number;
  /** Recognition batch size; lines of similar width are batched together. */
  recBatchSize: number;
  intraOpThreads?: number;
  /** ONNX Runtime execution provider (default: the CPU). */
  executionProvider?: ExecutionProviderName;
  detection?: DetectionOptions;
}

export const DEFAULT_ENGINE_OPTIONS: OcrEngineOptions = { detMaxSide: 960, minConfidence: 0.5, recBatchSize: 6 };

export class OcrEngine {
  readonly #detector: ort.InferenceSession;
  readonly #recognizer: ort.InferenceSession;
  readonly #classes: string[];
  readonly #options: OcrEngineOptions;

  private constructor(detector: ort.InferenceSession, recognizer: ort.InferenceSession, classes: string[], options: OcrEngineOptions) {
    this.#detector = detector;
    this.#recognizer = recognizer;
    this.#classes = classes;
    this.#options = options;
  }

  static async load(paths: ModelPaths, options: Partial<OcrEngineOptions> = {}): Promise<OcrEngine> {
    const merged = { ...DEFAULT_ENGINE_OPTIONS, ...options };
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      ...(merged.intraOpThreads ? { intraOpNumThreads: merged.intraOpThreads } : {}),
      ...(merged.executionProvider && merged.executionProvider !== 'cpu' ? { executionProviders: [merged.executionProvider] } : {}),
    };
    const [detector, recognizer, dictionary] = await Promise.all([
      ort.InferenceSession.create(paths.detection, sessionOptions),
      ort.InferenceSession.create(paths.recognition, sessionOptions),
      readFile(paths.dictionary, 'utf8'),
    ]);
    return new OcrEngine(detector, recognizer, parseDictionary(dictionary), merged);
  }

  async recognize(image: RgbImage): Promise<OcrOutput> {
    const timings: OcrTimings = { detectMs: 0, recognizeMs: 0, sessionRunMs: 0 };
    let started = performance.now();
    const regions = await this.#detect(image, timings);
    timings.detectMs = performance.now() - started;
    started = performance.now();
    const lines = await this.#recognizeRegions(image, regions, timings);
    timings.recognizeMs = performance.now() - started;
    return { lines, timings };
  }

  async #detect(image: RgbImage, timings: OcrTimings): Promise<TextRegion[]> {
    const size = detectionInputSize(image.width, image.height, this.#options.detMaxSide);
    const resized = await resizeRgb(image, size.width, size.height);
    const input = new ort.Tensor('float32', detectionTensorData(resized), [1, 3, size.height, size.width]);
    const runStarted = performance.now();
    const outputs = await this.#detector.run({ [this.#detector.inputNames[0]!]: input });
    timings.sessionRunMs += performance.now() - runStarted;
    const output = outputs[this.#detector.outputNames[0]!]!;
    const [, , mapHeight = 0, mapWidth = 0] = output.dims;
    const regions = regionsFromProbabilityMap(
      output.data as Float32Array,
      mapWidth,
      mapHeight,
      image.width,
      image.height,
      this.#options.detection ?? DEFAULT_DETECTION_OPTIONS,
    );
    input.dispose();
    output.dispose();
    return regions;
  }

  async #recognizeRegions(image: RgbImage, regions: TextRegion[], timings: OcrTimings): Promise<OcrLine[]> {
    if (regions.length === 0) return [];
    const crops = await Promise.all(
      regions.map(async (region) => {
        const width = recognitionWidth(region.width, region.height);
        return { region, ...(await cropAndResizeRgb(image, region, width, REC_HEIGHT)) };
      }),
    );
    // Batch lines of similar width so padding stays small, as PaddleOCR does.
    const order = crops.map((_, i) => i).sort((a, b) => crops[a]!.width - crops[b]!.width);
    const decoded = new Array<{ text: string; confidence: number }>(crops.length);
    for (let i = 0; i < order.length; i += this.#options.recBatchSize) {
      const indexes = order.slice(i, i + this.#options.recBatchSize);
      const batch = indexes.map((index) => crops[index]!);
      const batchWidth = Math.max(REC_MIN_WIDTH, ...batch.map((crop) => crop.width));
      const input = new ort.Tensor('float32', recognitionTensorData(batch, batchWidth), [batch.length, 3, REC_HEIGHT, batchWidth]);
      const runStarted = performance.now();
      const outputs = await this.#recognizer.run({ [this.#recognizer.inputNames[0]!]: input });
      timings.sessionRunMs += performance.now() - runStarted;
      const output = outputs[this.#recognizer.outputNames[0]!]!;
      decodeCtc(output.data as Float32Array, output.dims, this.#classes).forEach((line, j) => {
        decoded[indexes[j]!] = line;
      });
      input.dispose();
      output.dispose();
    }
    const lines: OcrLine[] = [];
    crops.forEach(({ region }, i) => {
      const line = decoded[i];
      if (!line || line.text === '' || line.confidence < this.#options.minConfidence) return;
      const right = region.left + region.width;
      const bottom = region.top + region.height;
      lines.push({
        text: line.text,
        confidence: Math.round(line.confidence * 10_000) / 10_000,
        box: [[region.left, region.top], [right, region.top], [right, bottom], [region.left, bottom]],
      });
    });
    return lines;
  }

  /**
   * Runs both models once on a synthetic page so the first real request does not pay for
   * ONNX Runtime's lazy initialisation. Needs no fonts (the image has none to draw with).
   */
  async warmUp(): Promise<OcrTimings> {
    const width = 320;
    const height = 96;
    const data = new Uint8Array(width * height * 3).fill(255);
    for (let y = 36; y < 60; y++) {
      for (let x = 24; x < 296; x++) {
        if (x % 24 < 14) data.fill(0, (y * width + x) * 3, (y * width + x) * 3 + 3);
      }
    }
    const image = { data, width, height };
    const timings: OcrTimings = { detectMs: 0, recognizeMs: 0, sessionRunMs: 0 };
    let started = performance.now();
    await this.#detect(image, timings);
    timings.detectMs = performance.now() - started;
    started = performance.now();
    await this.#recognizeRegions(image, [{ left: 0, top: 24, width, height: 48, score: 1 }], timings);
    timings.recognizeMs = performance.now() - started;
    return timings;
  }

  async release(): Promise<void> {
    await Promise.all([this.#detector.release(), this.#recognizer.release()]);
  }
}
