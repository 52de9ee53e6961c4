// What the route modules share: the services one running app is made of.
import type { AppConfig } from './config.ts';
import type { ImageStore } from './image-store.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { AppMetrics } from './metrics.ts';
import type { OcrJobSuccess } from './ocr/worker-protocol.ts';
import type { OcrQueueClient } from './ocr-queue/web-client.ts';
import type { InferenceQueue } from './queue.ts';
import type { ResultStore } from './results-store.ts';
import type { VersionInfo } from './version.ts';

/** Runs OCR on encoded image bytes; the worker pool in production, a stand-in in some tests. */
export interface OcrRunner {
  recognize(bytes: Uint8Array): Promise<OcrJobSuccess>;
  readonly healthy: boolean;
}

export interface AppContext {
  config: AppConfig;
  version: VersionInfo;
  store: ResultStore;
  images: ImageStore;
  ocr: OcrRunner;
  queue: InferenceQueue;
  metrics: AppMetrics;
  lifecycle: Lifecycle;
  /** The Redis queue to the workers (QUEUE_URL set); unset: jobs run in this process through `queue`. */
  remote?: OcrQueueClient;
}
