// Client-facing errors: each carries an HTTP status and a stable machine-readable code, rendered as JSON.

export class HttpError extends Error {
  override name = 'HttpError';
  readonly statusCode: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(statusCode: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
    this.headers = headers;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; statusCode: number };
}

export function errorBody(statusCode: number, code: string, message: string): ErrorBody {
  return { error: { code, message, statusCode } };
}

/**
 * The disk under DATA_DIR is full: ENOSPC (or a quota) from a file write, SQLITE_FULL from
 * node:sqlite. The request cannot be stored, but nothing is wrong with it or with the app.
 */
export function isStorageFull(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; errcode?: unknown; message?: unknown };
  if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return true;
  if (typeof e.errcode === 'number' && (e.errcode & 0xff) === 13) return true;
  return typeof e.message === 'string' && /database or disk is full|no space left on device/i.test(e.message);
}
