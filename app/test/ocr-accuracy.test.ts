// Word accuracy of the OCR pipeline on images the test draws itself: 6 fonts × 4 sizes, 3 lines of 4 words each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcrEngine } from '../src/ocr/engine.ts';
import { resolveModelPaths } from '../src/ocr/model-paths.ts';
import { decodeToRgb } from '../src/ocr/raw-image.ts';
import { TEST_FONTS, countMatchedWords, randomLines, renderTextImage, seededRandom } from './text-images.ts';

const SIZES = [16, 24, 36, 56];

describe('OCR word accuracy on generated images', () => {
  let engine: OcrEngine;
  beforeAll(async () => {
    engine = await OcrEngine.load(resolveModelPaths(undefined));
  });
  afterAll(async () => {
    await engine.release();
  });

  it('reads at least 90% of the words across fonts and sizes', async () => {
    const random = seededRandom(20_240_601);
    let matched = 0;
    let total = 0;
    const misses: string[] = [];
    for (const font of TEST_FONTS) {
      for (const size of SIZES) {
        const image = await renderTextImage(randomLines(random, 3, 4), font, size);
        const output = await engine.recognize(await decodeToRgb(image.png, 50_000_000));
        const found = output.lines.map((line) => line.text);
        const score = countMatchedWords(image.lines, found);
        matched += score.matched;
        total += score.total;
        if (score.matched < score.total) misses.push(`${font} ${size}px: expected ${JSON.stringify(image.lines)} got ${JSON.stringify(found)}`);
      }
    }
    const accuracy = matched / total;
    console.log(`word accuracy: ${matched}/${total} = ${(accuracy * 100).toFixed(1)}%`);
    if (misses.length) console.log(misses.join('\n'));
    expect(accuracy).toBeGreaterThanOrEqual(0.9);
  }, 120_000);

  it('finds no text on a blank page', async () => {
    const blank = { data: new Uint8Array(320 * 200 * 3).fill(255), width: 320, height: 200 };
    const output = await engine.recognize(blank);
    expect(output.lines).toEqual([]);
  });
});
