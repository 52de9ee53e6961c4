// What travels through Redis between the web role and the workers: the job (the image and what the web
// needs to store the result) and the worker's answer. Nothing else is shared: workers have no disk and no database.
import type { OcrLine } from '../ocr/engine.ts';

export const OCR_JOB_NAME = 'ocr';

export interface OcrQueueJobData {
  /** The validated upload, base64. */
  image: string;
  /** What the web stores with the result. */
  imageFormat: string;
  imageFile: string;
  imageBytes: number;
  /** The web instance that accepted it. */
  acceptedBy: string;
}

export interface OcrQueueJobResult {
  width: number;
  height: number;
  lines: OcrLine[];
  timings: { decodeMs: number; detectMs: number; recognizeMs: number; sessionRunMs: number };
  worker: string;
  workerVersion: string;
  provider: string;
  /** Epoch ms: when the web accepted the job, when this (last) run started and ended. */
  acceptedAt?: number;
  startedAt?: number;
  finishedAt?: number;
}

/** A job's failure reason starts with one of these codes, so the web can answer with the right status. */
export const FAILURE_CODES = {
  undecodable: 'undecodable_image',
  internal: 'ocr_failed',
} as const;

export function failureReason(code: string, message: string): string {
  return `${code}: ${message}`;
}

/** Splits a BullMQ failedReason into the app's error code and message; a stall limit reads as a crash. */
export function parseFailure(reason: string | undefined, attempts: number): { code: string; message: string } {
  const text = reason ?? 'unknown failure';
  const match = /^([a-z_]+): (.*)$/s.exec(text);
  if (match && Object.values(FAILURE_CODES).includes(match[1] as never)) return { code: match[1]!, message: match[2]! };
  if (/stalled more than allowable limit/i.test(text)) {
    return { code: 'worker_lost', message: `the worker running this job stopped mid-job (crash, kill or stop timeout) ${attempts} time(s); gave up` };
  }
  return { code: FAILURE_CODES.internal, message: text };
}
