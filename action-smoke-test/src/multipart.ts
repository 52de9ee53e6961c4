// A multipart/form-data body with one file part, as a browser's upload form sends it.
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export interface MultipartBody {
  body: Buffer;
  contentType: string;
}

export function multipartFile(field: string, fileName: string, type: string, content: Buffer): MultipartBody {
  const boundary = `----gangway-smoke-${randomBytes(12).toString('hex')}`;
  const name = path.basename(fileName).replace(/["\r\n]/g, '_');
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, content, tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}
