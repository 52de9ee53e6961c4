// The pure parts of the OCR pipeline: detector sizing, box extraction from a probability map, CTC decoding.
import { describe, expect, it } from 'vitest';
import { detectionInputSize, regionsFromProbabilityMap, sortInReadingOrder } from '../src/ocr/detection.ts';
import { decodeCtc, parseDictionary, recognitionWidth } from '../src/ocr/recognition.ts';

describe('detection', () => {
  it('sizes the detector input to multiples of 32 within the longest-side limit', () => {
    expect(detectionInputSize(640, 200, 960)).toEqual({ width: 640, height: 192 });
    expect(detectionInputSize(4000, 1000, 960)).toEqual({ width: 960, height: 256 });
    expect(detectionInputSize(10, 10, 960)).toEqual({ width: 32, height: 32 });
  });

  it('turns blobs of the probability map into grown, scaled boxes in reading order', () => {
    const width = 64;
    const height = 32;
    const map = new Float32Array(width * height);
    const fill = (x0: number, y0: number, x1: number, y1: number, p: number) => {
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) map[y * width + x] = p;
    };
    fill(40, 4, 60, 10, 0.9); // right word, first line
    fill(4, 5, 30, 10, 0.9); // left word, first line
    fill(4, 20, 50, 26, 0.95); // second line
    fill(55, 20, 57, 22, 0.9); // 2×2 speck: too small
    fill(4, 28, 30, 31, 0.4); // weak: under the box threshold
    const regions = regionsFromProbabilityMap(map, width, height, 128, 64);
    expect(regions).toHaveLength(3);
    expect(regions.map((region) => region.left)).toEqual([expect.any(Number), expect.any(Number), expect.any(Number)]);
    const [first, second, third] = regions;
    expect(first!.left).toBeLessThan(second!.left);
    expect(third!.top).toBeGreaterThan(first!.top);
    // Scaled ×2 and grown beyond the blob on every side.
    expect(first!.left).toBeLessThan(8);
    expect(first!.top).toBeLessThan(10);
    expect(first!.left + first!.width).toBeGreaterThan(60);
    for (const region of regions) {
      expect(region.left).toBeGreaterThanOrEqual(0);
      expect(region.left + region.width).toBeLessThanOrEqual(128);
      expect(region.top + region.height).toBeLessThanOrEqual(64);
    }
  });

  it('orders regions top to bottom, then left to right within a line', () => {
    const box = (left: number, top: number) => ({ left, top, width: 10, height: 10, score: 1 });
    expect(sortInReadingOrder([box(50, 31), box(0, 30), box(20, 2), box(0, 0)]).map((r) => [r.left, r.top])).toEqual([
      [0, 0],
      [20, 2],
      [0, 30],
      [50, 31],
    ]);
  });
});

describe('recognition', () => {
  it('keeps the aspect ratio at height 48', () => {
    expect(recognitionWidth(200, 48)).toBe(200);
    expect(recognitionWidth(100, 24)).toBe(200);
  });

  it('decodes CTC output: blanks and repeats dropped, confidence averaged', () => {
    const classes = parseDictionary('a\nb\nc\n');
    expect(classes).toEqual(['', 'a', 'b', 'c', ' ']);
    // steps: a a blank a b space c  → "aab c"
    const steps = [1, 1, 0, 1, 2, 4, 3];
    const data = new Float32Array(steps.length * classes.length);
    steps.forEach((best, t) => {
      data[t * classes.length + best] = 0.8;
    });
    const [line] = decodeCtc(data, [1, steps.length, classes.length], classes);
    expect(line!.text).toBe('aab c');
    expect(line!.confidence).toBeCloseTo(0.8);
  });
});
