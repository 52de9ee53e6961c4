// PaddleOCR DB text detection: image → input tensor, probability map → text boxes.
import type { RgbImage } from './raw-image.ts';

const DET_MEAN = [0.485, 0.456, 0.406] as const;
const DET_STD = [0.229, 0.224, 0.225] as const;
const STRIDE = 32;

export interface DetectionOptions {
  /** Pixels whose text probability exceeds this belong to a text region (PaddleOCR det_db_thresh). */
  binaryThreshold: number;
  /** Regions whose mean probability is below this are dropped (det_db_box_thresh). */
  boxThreshold: number;
  /** How far a shrunk DB region is grown back (det_db_unclip_ratio). */
  unclipRatio: number;
  /** Regions thinner than this, in map pixels, are noise. */
  minSide: number;
  maxCandidates: number;
}

export const DEFAULT_DETECTION_OPTIONS: DetectionOptions = {
  binaryThreshold: 0.3,
  boxThreshold: 0.6,
  unclipRatio: 1.5,
  minSide: 3,
  maxCandidates: 1000,
};

/** Axis-aligned text region in source-image pixels. */
export interface TextRegion {
  left: number;
  top: number;
  width: number;
  height: number;
  score: number;
}

/** Size the detector sees: longest side at most `maxSide`, both sides multiples of 32. */
export function detectionInputSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const ratio = Math.max(width, height) > maxSide ? maxSide / Math.max(width, height) : 1;
  const round = (value: number) => Math.max(STRIDE, Math.round((value * ratio) / STRIDE) * STRIDE);
  return { width: round(width), height: round(height) };
}

/** NCHW float tensor data in the BGR channel order PaddleOCR was trained on, ImageNet-normalised. */
export function detectionTensorData(image: RgbImage): Float32Array {
  const plane = image.width * image.height;
  const out = new Float32Array(3 * plane);
  const src = image.data;
  for (let i = 0, p = 0; p < plane; p++, i += 3) {
    out[p] = (src[i + 2]! / 255 - DET_MEAN[0]) / DET_STD[0];
    out[plane + p] = (src[i + 1]! / 255 - DET_MEAN[1]) / DET_STD[1];
    out[2 * plane + p] = (src[i]! / 255 - DET_MEAN[2]) / DET_STD[2];
  }
  return out;
}

/**
 * Connected regions of the thresholded probability map, grown by the DB unclip distance
 * and scaled to the source image. Regions are axis-aligned (text is assumed upright).
 */
export function regionsFromProbabilityMap(
  probabilities: Float32Array,
  mapWidth: number,
  mapHeight: number,
  sourceWidth: number,
  sourceHeight: number,
  options: DetectionOptions = DEFAULT_DETECTION_OPTIONS,
): TextRegion[] {
  const size = mapWidth * mapHeight;
  const visited = new Uint8Array(size);
  const stack = new Int32Array(size);
  const regions: TextRegion[] = [];
  const scaleX = sourceWidth / mapWidth;
  const scaleY = sourceHeight / mapHeight;

  for (let start = 0; start < size; start++) {
    if (visited[start] || probabilities[start]! <= options.binaryThreshold) continue;
    // Flood-fill one 8-connected component.
    let top = 0;
    stack[top++] = start;
    visited[start] = 1;
    let minX = mapWidth, minY = mapHeight, maxX = -1, maxY = -1;
    let sum = 0, count = 0;
    while (top > 0) {
      const index = stack[--top]!;
      const x = index % mapWidth;
      const y = (index - x) / mapWidth;
      sum += probabilities[index]!;
      count++;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= mapHeight) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= mapWidth) continue;
          const next = ny * mapWidth + nx;
          if (visited[next] || probabilities[next]! <= options.binaryThreshold) continue;
          visited[next] = 1;
          stack[top++] = next;
        }
      }
    }
    const boxWidth = maxX - minX + 1;
    const boxHeight = maxY - minY + 1;
    if (Math.min(boxWidth, boxHeight) < options.minSide) continue;
    const score = sum / count;
    if (score < options.boxThreshold) continue;
    // DB unclip: grow the shrunk region by area × ratio / perimeter on every side.
    const distance = (boxWidth * boxHeight * options.unclipRatio) / (2 * (boxWidth + boxHeight));
    const x0 = Math.max(0, Math.floor((minX - distance) * scaleX));
    const y0 = Math.max(0, Math.floor((minY - distance) * scaleY));
    const x1 = Math.min(sourceWidth, Math.ceil((maxX + 1 + distance) * scaleX));
    const y1 = Math.min(sourceHeight, Math.ceil((maxY + 1 + distance) * scaleY));
    if (x1 - x0 < options.minSide + 2 || y1 - y0 < options.minSide + 2) continue;
    regions.push({ left: x0, top: y0, width: x1 - x0, height: y1 - y0, score });
    if (regions.length >= options.maxCandidates) break;
  }
  return sortInReadingOrder(regions);
}

/** Top to bottom; regions whose vertical centres are within half a line height count as one line, left to right. */
export function sortInReadingOrder(regions: TextRegion[]): TextRegion[] {
  const sorted = [...regions].sort((a, b) => a.top + a.height / 2 - (b.top + b.height / 2));
  const lines: TextRegion[][] = [];
  for (const region of sorted) {
    const centre = region.top + region.height / 2;
    const line = lines.at(-1);
    const first = line?.[0];
    if (line && first && Math.abs(first.top + first.height / 2 - centre) < Math.min(first.height, region.height) / 2) {
      line.push(region);
    } else {
      lines.push([region]);
    }
  }
  return lines.flatMap((line) => line.sort((a, b) => a.left - b.left));
}
