import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseDurationMs } from '../src/config.ts';
import { resolveModelPaths } from '../src/ocr/model-paths.ts';

describe('config', () => {
  it('has defaults for everything', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ host: '0.0.0.0', port: 8080, ocrWorkers: 1, shutdownTimeoutMs: 25_000, shutdownDelayMs: 0 });
    expect(config.modelsDir).toBeUndefined();
  });

  it('parses durations and refuses nonsense with the variable named', () => {
    expect(parseDurationMs('X', '30s')).toBe(30_000);
    expect(parseDurationMs('X', '2m')).toBe(120_000);
    expect(parseDurationMs('X', '1500ms')).toBe(1500);
    expect(parseDurationMs('X', '10')).toBe(10_000);
    expect(() => loadConfig({ SHUTDOWN_TIMEOUT: 'soon' })).toThrow(/SHUTDOWN_TIMEOUT/);
    expect(() => loadConfig({ PORT: '99999' })).toThrow(ConfigError);
  });

  it('defaults to APP_ROLE=all without a queue on the CPU: one container, as before', () => {
    expect(loadConfig({})).toMatchObject({ role: 'all', queue: undefined, ocrProvider: 'cpu' });
  });

  it('reads the role, the queue and the provider', () => {
    const config = loadConfig({ APP_ROLE: 'worker', QUEUE_URL: 'redis://:secret@redis:6380/2', OCR_PROVIDER: 'auto', QUEUE_JOB_RETRIES: '3', OCR_RESULT_WAIT: '10s' });
    expect(config).toMatchObject({ role: 'worker', ocrProvider: 'auto' });
    expect(config.queue).toMatchObject({ url: 'redis://:secret@redis:6380/2', name: 'gangway-ocr', jobRetries: 3, resultWaitMs: 10_000, lockDurationMs: 15_000, stalledIntervalMs: 5000 });
    expect(loadConfig({ APP_ROLE: 'web', QUEUE_URL: 'rediss://redis' }).queue?.url).toBe('rediss://redis');
    expect(loadConfig({ QUEUE_URL: 'redis://127.0.0.1:6379' })).toMatchObject({ role: 'all', queue: { url: 'redis://127.0.0.1:6379' } });
  });

  it('refuses a bad role, provider or queue URL, naming the variable and the fix', () => {
    expect(() => loadConfig({ APP_ROLE: 'api' })).toThrow(/APP_ROLE must be one of web, worker, all, got "api"/);
    expect(() => loadConfig({ OCR_PROVIDER: 'gpu' })).toThrow(/OCR_PROVIDER must be one of cpu, cuda, auto, got "gpu"/);
    expect(() => loadConfig({ APP_ROLE: 'worker' })).toThrow(/APP_ROLE=worker needs QUEUE_URL/);
    expect(() => loadConfig({ APP_ROLE: 'web' })).toThrow(/APP_ROLE=web needs QUEUE_URL/);
    expect(() => loadConfig({ QUEUE_URL: 'not a url' })).toThrow(/QUEUE_URL must be a URL like redis:\/\/host:6379/);
    expect(() => loadConfig({ QUEUE_URL: 'http://redis:6379' })).toThrow(/QUEUE_URL must start with redis:\/\/ or rediss:\/\//);
    expect(() => loadConfig({ QUEUE_URL: 'redis://redis/queue' })).toThrow(/database number/);
    expect(() => loadConfig({ QUEUE_URL: 'redis://:hunter2@redis/x' })).toThrow(ConfigError);
    try {
      loadConfig({ QUEUE_URL: 'redis://:hunter2@redis/x' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
    expect(() => loadConfig({ QUEUE_URL: 'redis://r', QUEUE_LOCK_DURATION: '10ms' })).toThrow(/QUEUE_LOCK_DURATION/);
    expect(() => loadConfig({ QUEUE_URL: 'redis://r', OCR_RESULT_WAIT: '5m' })).toThrow(/OCR_RESULT_WAIT must be at most 100s/);
  });

  it('uses MODELS_DIR only when it holds the model files', () => {
    expect(resolveModelPaths('/nonexistent').source).toBe('bundled');
    const bundled = resolveModelPaths(undefined);
    expect(bundled.detection).toMatch(/ch_PP-OCRv4_det_infer\.onnx$/);
    expect(resolveModelPaths(bundled.detection.replace(/\/[^/]+$/, '')).source).toBe('models-dir');
  });
});
