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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const modelsDir = env.MODELS_DIR?.trim();
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
  };
}
