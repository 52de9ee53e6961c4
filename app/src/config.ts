// Reads the app's settings from the environment once, validated, into one plain object.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface AppConfig {
  host: string;
  port: number;
  dataDir: string;
  modelsDir: string | undefined;
  /** Largest accepted upload, in bytes. */
  maxUploadBytes: number;
  /** Largest accepted image, in pixels (width × height), checked from the header before decoding. */
  maxImagePixels: number;
  /** Largest accepted image side, in pixels. */
  maxImageSide: number;
  /** OCR jobs run at once (one ONNX worker thread each). */
  ocrWorkers: number;
  /** ONNX Runtime intra-op threads per worker. */
  ocrThreads: number;
  /** OCR jobs allowed to wait for a worker; past that, 503 with Retry-After. */
  queueMaxWaiting: number;
  /** How long draining may take on SIGTERM before the process gives up on open requests, in ms. */
  shutdownTimeoutMs: number;
  /** How long to keep accepting after SIGTERM with /readyz already 503, in ms (0: close the listener at once). */
  shutdownDelayMs: number;
  /** Longest side the detection model sees; larger images are scaled down first. */
  detMaxSide: number;
  logLevel: string;
  /**
   * The credential for the operator endpoints (the most recent results), from `OPERATOR_TOKEN`;
   * unset: those endpoints do not exist.
   */
  operatorToken: string | undefined;
  /** What this process does: `web` (HTTP + history), `worker` (runs the models for the queue), `all` (both). */
  role: AppRole;
  /** The Redis queue between web and workers (`QUEUE_URL`); unset: the in-process queue of one container. */
  queue: QueueConfig | undefined;
  /** Which ONNX Runtime execution provider the models run on. */
  ocrProvider: OcrProvider;
}

export const APP_ROLES = ['web', 'worker', 'all'] as const;
export type AppRole = (typeof APP_ROLES)[number];
export const OCR_PROVIDERS = ['cpu', 'cuda', 'auto'] as const;
export type OcrProvider = (typeof OCR_PROVIDERS)[number];

export interface QueueConfig {
  /** `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). */
  url: string;
  /** The BullMQ queue name (`QUEUE_NAME`). */
  name: string;
  /**
   * How often a job may start over after its worker vanished (crash, SIGKILL, stop timeout passed)
   * or failed on an internal error, before it is marked failed (`QUEUE_JOB_RETRIES`).
   */
  jobRetries: number;
  /** How long the web role waits for a result before answering 202 with the result URL (`OCR_RESULT_WAIT`), ms. */
  resultWaitMs: number;
  /** BullMQ lock duration (`QUEUE_LOCK_DURATION`), ms: a job whose worker stops renewing it is stalled after this. */
  lockDurationMs: number;
  /** BullMQ stalled-job check interval (`QUEUE_STALLED_INTERVAL`), ms. */
  stalledIntervalMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const appRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function readInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** `SHUTDOWN_TIMEOUT` accepts `30s`, `2m`, `1500ms` or a bare number of seconds. */
export function parseDurationMs(name: string, raw: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(raw);
  if (!match) throw new ConfigError(`${name} must be a duration like 30s, 2m or 1500ms, got "${raw}"`);
  const amount = Number(match[1]);
  const unit = match[2] ?? 's';
  return Math.round(unit === 'ms' ? amount : unit === 'm' ? amount * 60_000 : amount * 1000);
}

/** At least this many characters: the operator token guards every stored result's text. */
export const OPERATOR_TOKEN_MIN_LENGTH = 32;

function readOperatorToken(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.OPERATOR_TOKEN?.trim();
  if (!raw) return undefined;
  if (raw.length < OPERATOR_TOKEN_MIN_LENGTH) {
    throw new ConfigError(`OPERATOR_TOKEN must be at least ${OPERATOR_TOKEN_MIN_LENGTH} characters (e.g. openssl rand -hex 32), got ${raw.length}`);
  }
  return raw;
}

function readChoice<T extends string>(env: NodeJS.ProcessEnv, name: string, choices: readonly T[], fallback: T): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${choices.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/** Parses `QUEUE_URL`: a redis:// or rediss:// URL with a host; the password never appears in the message. */
export function parseQueueUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError('QUEUE_URL must be a URL like redis://host:6379 or rediss://user:password@host:6380/0; it cannot be parsed');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(`QUEUE_URL must start with redis:// or rediss://, got ${url.protocol}//`);
  }
  if (!url.hostname) throw new ConfigError('QUEUE_URL has no host (e.g. redis://redis:6379)');
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,2}$/.test(db)) throw new ConfigError(`QUEUE_URL's path must be a database number (0-15), got "/${db.slice(0, 20)}"`);
  return url.toString();
}

function readQueue(env: NodeJS.ProcessEnv, role: AppRole): QueueConfig | undefined {
  const raw = env.QUEUE_URL?.trim();
  if (!raw) {
    if (role !== 'all') throw new ConfigError(`APP_ROLE=${role} needs QUEUE_URL (redis://host:6379): web and worker meet only through the queue`);
    return undefined;
  }
  const name = env.QUEUE_NAME?.trim() || 'gangway-ocr';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new ConfigError(`QUEUE_NAME must be 1-64 letters, digits, '.', '_' or '-', got "${name.slice(0, 70)}"`);
  const lockDurationMs = env.QUEUE_LOCK_DURATION ? parseDurationMs('QUEUE_LOCK_DURATION', env.QUEUE_LOCK_DURATION) : 15_000;
  const stalledIntervalMs = env.QUEUE_STALLED_INTERVAL ? parseDurationMs('QUEUE_STALLED_INTERVAL', env.QUEUE_STALLED_INTERVAL) : 5_000;
  if (lockDurationMs < 1000) throw new ConfigError(`QUEUE_LOCK_DURATION must be at least 1s, got ${lockDurationMs} ms`);
  if (stalledIntervalMs < 500) throw new ConfigError(`QUEUE_STALLED_INTERVAL must be at least 500ms, got ${stalledIntervalMs} ms`);
  const resultWaitMs = env.OCR_RESULT_WAIT ? parseDurationMs('OCR_RESULT_WAIT', env.OCR_RESULT_WAIT) : 30_000;
  // The HTTP server gives a request 120 s (app.ts requestTimeout): the wait must end, with a 202, before that.
  if (resultWaitMs > 100_000) throw new ConfigError(`OCR_RESULT_WAIT must be at most 100s (requests time out at 120 s), got ${resultWaitMs} ms`);
  return {
    url: parseQueueUrl(raw),
    name,
    jobRetries: readInt(env, 'QUEUE_JOB_RETRIES', 2, 0, 20),
    resultWaitMs,
    lockDurationMs,
    stalledIntervalMs,
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const modelsDir = env.MODELS_DIR?.trim();
  const role = readChoice(env, 'APP_ROLE', APP_ROLES, 'all');
  return {
    host: env.HOST?.trim() || '0.0.0.0',
    port: readInt(env, 'PORT', 8080, 0, 65535),
    dataDir: path.resolve(env.DATA_DIR?.trim() || path.join(appRoot, '.data')),
    modelsDir: modelsDir ? path.resolve(modelsDir) : undefined,
    maxUploadBytes: readInt(env, 'MAX_UPLOAD_BYTES', 10 * 1024 * 1024, 1024, 100 * 1024 * 1024),
    maxImagePixels: readInt(env, 'MAX_IMAGE_PIXELS', 40_000_000, 1024, 500_000_000),
    maxImageSide: readInt(env, 'MAX_IMAGE_SIDE', 12_000, 32, 100_000),
    ocrWorkers: readInt(env, 'OCR_WORKERS', 1, 1, 16),
    ocrThreads: readInt(env, 'OCR_THREADS', 1, 1, 64),
    queueMaxWaiting: readInt(env, 'QUEUE_MAX_WAITING', 32, 0, 10_000),
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT ? parseDurationMs('SHUTDOWN_TIMEOUT', env.SHUTDOWN_TIMEOUT) : 25_000,
    shutdownDelayMs: env.SHUTDOWN_DELAY ? parseDurationMs('SHUTDOWN_DELAY', env.SHUTDOWN_DELAY) : 0,
    detMaxSide: readInt(env, 'OCR_DET_MAX_SIDE', 960, 64, 4096),
    logLevel: env.LOG_LEVEL?.trim() || 'info',
    operatorToken: readOperatorToken(env),
    role,
    queue: readQueue(env, role),
    ocrProvider: readChoice(env, 'OCR_PROVIDER', OCR_PROVIDERS, 'cpu'),
  };
}
