// What the API answers for a stored OCR result: the JSON both the in-process and the queued paths send.
import type { ResultTimings, StoredResult } from '../results-store.ts';

export interface OcrResponse {
  token: string;
  url: string;
  createdAt: string;
  image: { format: string; width: number; height: number; bytes: number; url: string };
  text: string;
  lines: StoredResult['lines'];
  timings: ResultTimings;
  version: string;
}

export function toResponse(result: StoredResult): OcrResponse {
  return {
    token: result.token,
    url: `/r/${result.token}`,
    createdAt: new Date(result.createdAt).toISOString(),
    image: {
      format: result.imageFormat,
      width: result.width,
      height: result.height,
      bytes: result.imageBytes,
      url: `/api/v1/results/${result.token}/image`,
    },
    text: result.text,
    lines: result.lines,
    timings: result.timings,
    version: result.appVersion,
  };
}
