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
