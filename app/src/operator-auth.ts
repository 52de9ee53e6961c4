// The operator's credential (OPERATOR_TOKEN), checked in constant time, for endpoints that can reach stored results.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './http-errors.ts';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Whether `presented` is the operator token. Both sides are hashed first, so timingSafeEqual
 * compares two equal-length digests and the time taken says nothing about either value's length
 * or content.
 */
export function isOperatorToken(presented: string | undefined, expected: string): boolean {
  return timingSafeEqual(digest(presented ?? ''), digest(expected)) && presented !== undefined;
}

/** The bearer token of an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

/** Throws 401 unless the request carries the operator token. */
export function requireOperator(request: FastifyRequest, expected: string): void {
  if (!isOperatorToken(bearerToken(request), expected)) {
    throw new HttpError(401, 'unauthorized', 'this endpoint needs the operator token: Authorization: Bearer <OPERATOR_TOKEN>', {
      'www-authenticate': 'Bearer realm="gangway-app operator"',
    });
  }
}
