import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../src/http-errors.ts';
import { isAcceptedUploadType, sniffImageFormat, validateImage } from '../src/image-validation.ts';
import { pngClaimingSize } from './png-header.ts';

const limits = { maxBytes: 1_000_000, maxPixels: 1_000_000, maxSide: 2000 };

describe('image validation', () => {
  it('knows formats by their magic bytes, not by their name', async () => {
    const base = sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } });
    expect(sniffImageFormat(await base.clone().png().toBuffer())).toBe('png');
    expect(sniffImageFormat(await base.clone().jpeg().toBuffer())).toBe('jpeg');
    expect(sniffImageFormat(await base.clone().webp().toBuffer())).toBe('webp');
    expect(sniffImageFormat(await base.clone().gif().toBuffer())).toBe('gif');
    expect(sniffImageFormat(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeUndefined();
    expect(sniffImageFormat(Buffer.from('BM'))).toBeUndefined();
  });

  it('accepts image types and octet-stream only', () => {
    expect(isAcceptedUploadType('image/png')).toBe(true);
    expect(isAcceptedUploadType('IMAGE/JPEG; charset=binary')).toBe(true);
    expect(isAcceptedUploadType('application/octet-stream')).toBe(true);
    expect(isAcceptedUploadType('image/svg+xml')).toBe(false);
    expect(isAcceptedUploadType('text/plain')).toBe(false);
    expect(isAcceptedUploadType(undefined)).toBe(false);
  });

  it('reads dimensions from the header and refuses bombs before decoding', async () => {
    const ok = await validateImage(pngClaimingSize(1000, 1000), limits);
    expect(ok).toMatchObject({ format: 'png', width: 1000, height: 1000 });
    const started = performance.now();
    const bomb = await validateImage(pngClaimingSize(60_000, 60_000), limits).catch((error: unknown) => error);
    expect(performance.now() - started).toBeLessThan(500);
    expect(bomb).toBeInstanceOf(HttpError);
    expect((bomb as HttpError).statusCode).toBe(422);
    await expect(validateImage(pngClaimingSize(2001, 1), limits)).rejects.toMatchObject({ code: 'image_dimensions_too_large' });
  });
});
