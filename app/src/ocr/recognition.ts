// PaddleOCR CRNN text recognition: line crops → batched input tensor, CTC output → text and confidence.

export const REC_HEIGHT = 48;
/** PaddleOCR pads every batch to at least 320 px wide (rec_image_shape 3,48,320). */
export const REC_MIN_WIDTH = 320;
/** Very long lines are squeezed to this width to bound memory. */
export const REC_MAX_WIDTH = 3200;

/** Width a crop gets when scaled to the recognizer's height, keeping its aspect ratio. */
export function recognitionWidth(width: number, height: number): number {
  return Math.min(REC_MAX_WIDTH, Math.max(8, Math.ceil((REC_HEIGHT * width) / Math.max(1, height))));
}

/**
 * Fills one batch tensor [n, 3, 48, batchWidth] from RGB crops already scaled to height 48.
 * Channels are BGR, normalised to [-1, 1]; the right padding stays 0 as in PaddleOCR.
 */
export function recognitionTensorData(
  crops: { data: Uint8Array; width: number }[],
  batchWidth: number,
): Float32Array {
  const plane = REC_HEIGHT * batchWidth;
  const out = new Float32Array(crops.length * 3 * plane);
  crops.forEach((crop, n) => {
    const base = n * 3 * plane;
    for (let y = 0; y < REC_HEIGHT; y++) {
      for (let x = 0; x < crop.width; x++) {
        const i = (y * crop.width + x) * 3;
        const p = y * batchWidth + x;
        out[base + p] = crop.data[i + 2]! / 127.5 - 1;
        out[base + plane + p] = crop.data[i + 1]! / 127.5 - 1;
        out[base + 2 * plane + p] = crop.data[i]! / 127.5 - 1;
      }
    }
  });
  return out;
}

/** The recognizer's classes: CTC blank, then the dictionary lines, then a space. */
export function parseDictionary(text: string): string[] {
  const lines = text.replace(/\r/g, '').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return ['', ...lines, ' '];
}

export interface DecodedLine {
  text: string;
  confidence: number;
}

/** Greedy CTC decoding of softmax output [n, steps, classes]: best class per step, repeats and blanks removed. */
export function decodeCtc(
  probabilities: Float32Array,
  dims: readonly number[],
  classes: readonly string[],
): DecodedLine[] {
  const [batch = 0, steps = 0, classCount = 0] = dims;
  const lines: DecodedLine[] = [];
  for (let n = 0; n < batch; n++) {
    let text = '';
    let confidenceSum = 0;
    let kept = 0;
    let previous = -1;
    for (let t = 0; t < steps; t++) {
      const offset = (n * steps + t) * classCount;
      let best = 0;
      let bestP = probabilities[offset]!;
      for (let c = 1; c < classCount; c++) {
        const p = probabilities[offset + c]!;
        if (p > bestP) {
          bestP = p;
          best = c;
        }
      }
      if (best !== 0 && best !== previous) {
        text += classes[best] ?? '';
        confidenceSum += bestP;
        kept++;
      }
      previous = best;
    }
    lines.push({ text: text.trim(), confidence: kept ? confidenceSum / kept : 0 });
  }
  return lines;
}
