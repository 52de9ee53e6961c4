// Checks an upload before any pixel is decoded: size, real format from magic bytes, dimensions from the header.
import sharp from 'sharp';
import { HttpError } from './http-errors.ts';

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif';

export const IMAGE_MIME: Record<ImageFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
};

export interface UploadLimits {
  maxBytes: number;
  maxPixels: number;
  maxSide: number;
}

export interface ValidatedImage {
  format: ImageFormat;
  mime: string;
  width: number;
  height: number;
  bytes: number;
}

/** The format the bytes really are, whatever the client said. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const ascii = (start: number, end: number) => Buffer.from(bytes.subarray(start, end)).toString('latin1');
  if (bytes.length >= 8 && bytes[0] === 0x89 && ascii(1, 4) === 'PNG' && bytes[4] === 0x0d && bytes[5] === 0x0a) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return 'gif';
  if (bytes.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return undefined;
}

/** A declared Content-Type the raw-body endpoint accepts: an image type, or octet-stream (then sniffed). */
export function isAcceptedUploadType(contentType: string | undefined): boolean {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (!type) return false;
  return type === 'application/octet-stream' || Object.values(IMAGE_MIME).includes(type);
}

export async function validateImage(bytes: Uint8Array, limits: UploadLimits): Promise<ValidatedImage> {
  if (bytes.length === 0) throw new HttpError(400, 'empty_upload', 'the upload is empty');
  if (bytes.length > limits.maxBytes) {
    throw new HttpError(413, 'upload_too_large', `the upload is ${bytes.length} bytes; the limit is ${limits.maxBytes}`);
  }
  const format = sniffImageFormat(bytes);
  if (!format) {
    throw new HttpError(415, 'unsupported_image', 'the upload is not a PNG, JPEG, WebP or GIF image');
  }
  let width: number | undefined;
  let height: number | undefined;
  try {
    // metadata() parses the header only: nothing is decompressed here.
    const metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
    width = metadata.autoOrient?.width ?? metadata.width;
    height = metadata.autoOrient?.height ?? metadata.height;
  } catch (error) {
    throw new HttpError(422, 'unreadable_image', `the ${format.toUpperCase()} header cannot be read: ${(error as Error).message}`);
  }
  if (!width || !height) throw new HttpError(422, 'unreadable_image', 'the image header has no dimensions');
  if (width > limits.maxSide || height > limits.maxSide || width * height > limits.maxPixels) {
    throw new HttpError(
      422,
      'image_dimensions_too_large',
      `the image is ${width}×${height}; the limits are ${limits.maxSide} px a side and ${limits.maxPixels} pixels`,
    );
  }
  return { format, mime: IMAGE_MIME[format], width, height, bytes: bytes.length };
}
