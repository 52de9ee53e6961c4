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

  it('uses MODELS_DIR only when it holds the model files', () => {
    expect(resolveModelPaths('/nonexistent').source).toBe('bundled');
    const bundled = resolveModelPaths(undefined);
    expect(bundled.detection).toMatch(/ch_PP-OCRv4_det_infer\.onnx$/);
    expect(resolveModelPaths(bundled.detection.replace(/\/[^/]+$/, '')).source).toBe('models-dir');
  });
});
