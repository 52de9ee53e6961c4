// Test images with known text, drawn by the tests themselves: SVG text rendered by sharp (librsvg + fontconfig).
import sharp from 'sharp';

export interface TextImage {
  png: Buffer;
  lines: string[];
  font: string;
  size: number;
}

/** Fonts Debian ships in fonts-dejavu-core and fonts-liberation. */
export const TEST_FONTS = ['DejaVu Sans', 'DejaVu Serif', 'DejaVu Sans Mono', 'Liberation Sans', 'Liberation Serif', 'Liberation Mono'];

const WORDS = (
  'harbor ship crane dock anchor river bridge market window garden silver orange yellow purple winter summer ' +
  'morning evening station ticket letter number simple bright quiet gentle famous modern ancient planet ocean ' +
  'forest mountain valley castle engine rocket signal camera mirror pencil basket blanket kitchen chapter ' +
  'invoice receipt total amount order deliver customer account balance payment server deploy release version'
).split(' ');

/** Deterministic pseudo-random numbers (mulberry32), so every run draws the same words. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomLines(random: () => number, lineCount: number, wordsPerLine: number): string[] {
  return Array.from({ length: lineCount }, () =>
    Array.from({ length: wordsPerLine }, () => {
      const word = WORDS[Math.floor(random() * WORDS.length)]!;
      const roll = random();
      if (roll < 0.15) return word[0]!.toUpperCase() + word.slice(1);
      if (roll < 0.25) return String(Math.floor(random() * 9000) + 100);
      return word;
    }).join(' '),
  );
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Black text on white, one line per row, with margins proportional to the font size. */
export async function renderTextImage(lines: string[], font: string, size: number): Promise<TextImage> {
  const lineHeight = Math.round(size * 1.8);
  const margin = Math.round(size * 1.2);
  const longest = Math.max(...lines.map((line) => line.length));
  const width = Math.round(margin * 2 + longest * size * 0.68);
  const height = margin * 2 + lineHeight * lines.length;
  const texts = lines
    .map(
      (line, i) =>
        `<text x="${margin}" y="${margin + lineHeight * i + size}" font-family="${font}" font-size="${size}" fill="#111">${escapeXml(line)}</text>`,
    )
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#fff"/>${texts}</svg>`;
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  return { png, lines, font, size };
}

/** Words of `expected` found in `actual` (multiset match, punctuation at word ends ignored). */
export function countMatchedWords(expected: string[], actual: string[]): { matched: number; total: number } {
  const normalise = (word: string) => word.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
  const expectedWords = expected.flatMap((line) => line.split(/\s+/)).map(normalise).filter(Boolean);
  const pool = new Map<string, number>();
  for (const word of actual.flatMap((line) => line.split(/\s+/)).map(normalise).filter(Boolean)) {
    pool.set(word, (pool.get(word) ?? 0) + 1);
  }
  let matched = 0;
  for (const word of expectedWords) {
    const left = pool.get(word) ?? 0;
    if (left > 0) {
      matched++;
      pool.set(word, left - 1);
    }
  }
  return { matched, total: expectedWords.length };
}
