// POST /api/v1/ocr through the Redis queue (QUEUE_URL set, web role): the image is kept on the web's
// volume, the job goes to Redis, and the request waits for the result within OCR_RESULT_WAIT. A queue too
// deep to answer in time gets 202 with the result URL at once; a full one 503 + Retry-After.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.ts';
import { HttpError } from '../http-errors.ts';
import type { ValidatedImage } from '../image-validation.ts';
import { FAILURE_CODES } from '../ocr-queue/protocol.ts';
import { QueueUnavailableError, type OcrQueueClient, type QueuedOutcome } from '../ocr-queue/web-client.ts';
import { QueueFullError } from '../queue.ts';
import { toResponse } from './ocr-response.ts';

export interface QueuedUpload {
  request: FastifyRequest;
  reply: FastifyReply;
  token: string;
  bytes: Uint8Array;
  image: ValidatedImage;
  extension: string;
  started: number;
}

const unavailable = (message: string) => new HttpError(503, 'queue_unavailable', message, { 'retry-after': '5' });

/** The HTTP error a failed job answers with, on the upload and on its result URL (the result page shows the message). */
export function failedJobError(code: string, message: string): HttpError {
  if (code === FAILURE_CODES.undecodable) return new HttpError(422, code, `the image cannot be decoded: ${message}`);
  return new HttpError(500, code, `the OCR job failed: ${message}`);
}

export function sendPending(reply: FastifyReply, token: string, status: 'queued' | 'running'): FastifyReply {
  return reply
    .code(202)
    .header('location', `/api/v1/results/${token}`)
    .header('retry-after', '1')
    .header('cache-control', 'no-store')
    .send({ token, status, url: `/r/${token}`, resultUrl: `/api/v1/results/${token}` });
}

export async function lookupQueued(remote: OcrQueueClient, token: string): Promise<QueuedOutcome> {
  try {
    return await remote.lookup(token);
  } catch (error) {
    if (error instanceof QueueUnavailableError) throw unavailable('the result is not in the history yet and the queue cannot be reached; try again shortly');
    throw error;
  }
}

export async function answerThroughQueue(remote: OcrQueueClient, upload: QueuedUpload, context: AppContext): Promise<FastifyReply> {
  const { images, metrics, config } = context;
  const { reply, token, bytes, image, extension } = upload;
  const queueConfig = config.queue;
  if (!queueConfig) throw new Error('no queue configured');
  // On the web's volume before the job exists: the result row written later points at a file that is there.
  const imageFile = await images.save(token, extension, bytes);
  let receipt;
  try {
    receipt = await remote.submit(token, bytes, { imageFormat: image.format, imageFile, imageBytes: image.bytes });
  } catch (error) {
    await images.remove(imageFile).catch(() => undefined);
    if (error instanceof QueueFullError) {
      metrics.ocrRequests.inc({ outcome: 'queue_full' });
      throw new HttpError(503, 'queue_full', 'too many images are waiting; try again shortly', { 'retry-after': String(error.retryAfterSeconds) });
    }
    if (error instanceof QueueUnavailableError) {
      metrics.ocrRequests.inc({ outcome: 'error' });
      upload.request.log.warn({ err: error.message }, 'queue unavailable: upload refused');
      throw unavailable('the job queue cannot be reached; try again shortly');
    }
    throw error;
  }
  // Accepted: from here on the job completes whatever happens to this request or to the workers.
  if (receipt.estimatedWaitMs > queueConfig.resultWaitMs) {
    metrics.ocrRequests.inc({ outcome: 'accepted' });
    return sendPending(reply, token, 'queued');
  }
  const outcome = await remote.waitForOutcome(token, queueConfig.resultWaitMs);
  if (outcome.state === 'done') {
    metrics.ocrRequests.inc({ outcome: 'ok' });
    metrics.ocrLines.observe(outcome.result.lines.length);
    return reply.code(200).header('location', `/api/v1/results/${token}`).send(toResponse(outcome.result));
  }
  if (outcome.state === 'failed') {
    metrics.ocrRequests.inc({ outcome: outcome.code === FAILURE_CODES.undecodable ? 'client_error' : 'error' });
    throw failedJobError(outcome.code, outcome.message);
  }
  metrics.ocrRequests.inc({ outcome: 'accepted' });
  return sendPending(reply, token, outcome.state === 'pending' ? outcome.status : 'queued');
}
