// Share tokens: 128 random bits, base64url, so a result URL cannot be guessed.
import { randomBytes } from 'node:crypto';

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export function newResultToken(): string {
  return randomBytes(16).toString('base64url');
}

export function isResultToken(value: string): boolean {
  return TOKEN_PATTERN.test(value);
}
