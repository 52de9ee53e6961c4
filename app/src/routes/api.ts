// The JSON API: run OCR on an upload, fetch a stored result, its image, and usage statistics.
import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.ts';
import { HttpError } from '../http-errors.ts';
import { isAcceptedUploadType, validateImage, type ValidatedImage } from '../image-validation.ts';
import { ImageDecodeError } from '../ocr/worker-pool.ts';
import { requireOperator } from '../operator-auth.ts';
import type { OcrJobSuccess } from '../ocr/worker-protocol.ts';
import { QueueFullError } from '../queue.ts';
import { answerThroughQueue, failedJobError, lookupQueued, sendPending } from './api-queued.ts';
import { toResponse } from './ocr-response.ts';
import type { ResultTimings, StoredResult } from '../results-store.ts';
import { isResultToken, newResultToken } from '../result-token.ts';

const round = (ms: number) => Math.round(ms * 10) / 10;

/** The file part of a multipart form; a body the parser cannot read is the client's fault (400), not ours. */
async function readMultipartFile(request: FastifyRequest, maxBytes: number): Promise<Uint8Array> {
  try {
    const file = await request.file({ limits: { fileSize: maxBytes, files: 1 } });
    if (!file) throw new HttpError(400, 'missing_file', 'the multipart form has no file part');
    if (!isAcceptedUploadType(file.mimetype)) {
      file.file.resume();
      throw new HttpError(415, 'unsupported_media_type', `file parts must be an image, got ${file.mimetype}`);
    }
    return await file.toBuffer();
  } catch (error) {
    // HttpErrors and Fastify's own client errors (413 file too large, 406 not multipart…) keep their status.
    // What is left comes from busboy reading the body: "Boundary not found", "Unexpected end of multipart data",
    // "Part terminated early…": a malformed or cut form.
    const status = (error as { statusCode?: unknown }).statusCode;
    if (error instanceof HttpError || (typeof status === 'number' && status >= 400 && status < 500)) throw error;
    throw new HttpError(400, 'malformed_multipart', `the multipart body cannot be read: ${(error as Error).message}`);
  }
}

/** The uploaded bytes, from a multipart form (first file part) or from a raw image body. */
async function readUpload(request: FastifyRequest, maxBytes: number): Promise<Uint8Array> {
  if (request.isMultipart()) return await readMultipartFile(request, maxBytes);
  if (!Buffer.isBuffer(request.body)) {
    throw new HttpError(415, 'unsupported_media_type', 'send the image as multipart/form-data or as a raw image/* body');
  }
  return request.body;
}

/**
 * Oversized bodies up to this many times the limit are read to their end before the 413; longer
 * ones are refused at once. A proxy in front may let through more than the app's limit (nginx's
 * client_max_body_size), so a body somewhat over it is common and deserves a clean 413; reading
 * 100 MiB to refuse it is not.
 */
export const DRAIN_OVERSIZED_FACTOR = 4;

/**
 * A preParsing hook for upload routes: a body whose Content-Length is over `limit`, but not over
 * DRAIN_OVERSIZED_FACTOR × `limit`, is read to its end and discarded, then refused with 413 and
 * `Connection: close`. Fastify's own check answers 413 before reading the body and closes the
 * connection; a reverse proxy that is still sending the body it buffered (nginx in front of every
 * Gangway app) then sees a reset and answers the client 502 Bad Gateway instead of the 413.
 * Longer bodies are left to Fastify (413, connection closed at once): nobody gets to make the app
 * read an arbitrary amount before refusing it. The connection is closed after the drained 413 too,
 * so a client cannot keep one connection busy sending oversized bodies over and over.
 */
export function refuseOversizedAfterReading(limitFor: (request: FastifyRequest) => number) {
  return async (request: FastifyRequest, _reply: unknown, payload: NodeJS.ReadableStream & { destroyed?: boolean }) => {
    const length = Number(request.headers['content-length']);
    const limit = limitFor(request);
    if (!Number.isFinite(length) || length <= limit || length > limit * DRAIN_OVERSIZED_FACTOR) return payload;
    await new Promise<void>((resolve) => {
      payload.on('end', resolve);
      payload.on('error', () => resolve());
      payload.on('close', () => resolve());
      payload.resume();
    });
    throw new HttpError(413, 'upload_too_large', `the upload is ${length} bytes; the limit is ${limit}`, { connection: 'close' });
  };
}

export function registerApiRoutes(app: FastifyInstance, context: AppContext): void {
  const { config, store, images, ocr, queue, metrics, version, remote } = context;
  const limits = { maxBytes: config.maxUploadBytes, maxPixels: config.maxImagePixels, maxSide: config.maxImageSide };

  const rawTypes = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'application/octet-stream'];
  app.addContentTypeParser(rawTypes, { parseAs: 'buffer', bodyLimit: config.maxUploadBytes }, (_request, body, done) => {
    done(null, body);
  });

  // Multipart bodies may carry up to 64 KiB of form around the file (the app's bodyLimit).
  // (request.isMultipart() is only known once the body parser ran: the header tells it here.)
  const preParsing = refuseOversizedAfterReading((request) => config.maxUploadBytes + (/^multipart\//i.test(request.headers['content-type'] ?? '') ? 64 * 1024 : 0));
  app.post('/api/v1/ocr', { preParsing }, async (request, reply) => {
    const started = performance.now();
    let image: ValidatedImage;
    let bytes: Uint8Array;
    try {
      bytes = await readUpload(request, config.maxUploadBytes);
      image = await validateImage(bytes, limits);
    } catch (error) {
      metrics.ocrRequests.inc({ outcome: 'client_error' });
      throw error;
    }

    const token = newResultToken();
    const extension = image.format === 'jpeg' ? 'jpg' : image.format;
    if (remote) return await answerThroughQueue(remote, { request, reply, token, bytes, image, extension, started }, context);
    const pending: { saving?: Promise<string> } = {};
    const enqueued = performance.now();
    let queueMs = 0;
    let job: OcrJobSuccess;
    try {
      job = await queue.run(() => {
        queueMs = performance.now() - enqueued;
        // The image is written while the models run, off the request's critical path.
        pending.saving = images.save(token, extension, bytes);
        pending.saving.catch(() => undefined);
        return ocr.recognize(bytes);
      });
    } catch (error) {
      void pending.saving?.then((name) => images.remove(name)).catch(() => undefined);
      if (error instanceof QueueFullError) {
        metrics.ocrRequests.inc({ outcome: 'queue_full' });
        throw new HttpError(503, 'queue_full', 'too many images are waiting; try again shortly', {
          'retry-after': String(error.retryAfterSeconds),
        });
      }
      if (error instanceof ImageDecodeError) {
        metrics.ocrRequests.inc({ outcome: 'client_error' });
        throw new HttpError(422, 'undecodable_image', `the image cannot be decoded: ${error.message}`);
      }
      metrics.ocrRequests.inc({ outcome: 'error' });
      throw error;
    }
    const inferenceMs = performance.now() - enqueued - queueMs;

    const imageFile = await (pending.saving ?? images.save(token, extension, bytes));
    const timings: ResultTimings = {
      queueMs: round(queueMs),
      decodeMs: round(job.timings.decodeMs),
      detectMs: round(job.timings.detectMs),
      recognizeMs: round(job.timings.recognizeMs),
      sessionRunMs: round(job.timings.sessionRunMs),
      inferenceMs: round(inferenceMs),
      totalMs: 0,
    };
    const createdAt = Date.now();
    timings.totalMs = round(performance.now() - started);
    const result: StoredResult = {
      token,
      createdAt,
      imageFormat: image.format,
      imageFile,
      imageBytes: image.bytes,
      width: job.width,
      height: job.height,
      lines: job.lines,
      text: job.lines.map((line) => line.text).join('\n'),
      timings,
      appVersion: version.version,
      instance: version.instance,
    };
    store.insert(result);

    metrics.ocrRequests.inc({ outcome: 'ok' });
    metrics.ocrLines.observe(job.lines.length);
    metrics.jobWait.observe(queueMs / 1000);
    metrics.jobRun.observe(inferenceMs / 1000);
    for (const [stage, ms] of Object.entries({
      queue: queueMs,
      decode: job.timings.decodeMs,
      detect: job.timings.detectMs,
      recognize: job.timings.recognizeMs,
      session_run: job.timings.sessionRunMs,
      total: timings.totalMs,
    })) {
      metrics.ocrStageDuration.observe({ stage }, ms / 1000);
    }
    return reply.code(200).header('location', `/api/v1/results/${token}`).send(toResponse(result));
  });

  const notFound = (token: string) => new HttpError(404, 'result_not_found', `no result has the token "${token.slice(0, 64)}"`);

  function findResult(token: string): StoredResult {
    const result = isResultToken(token) ? store.get(token) : undefined;
    if (!result) throw notFound(token);
    return result;
  }

  app.get<{ Params: { token: string } }>('/api/v1/results/:token', async (request, reply) => {
    const { token } = request.params;
    if (!remote || !isResultToken(token)) return toResponse(findResult(token));
    // Queued jobs: done (from the history, or settled into it now), still queued or running (202), or failed.
    const outcome = await lookupQueued(remote, token);
    if (outcome.state === 'done') return toResponse(outcome.result);
    if (outcome.state === 'pending') return sendPending(reply, token, outcome.status);
    if (outcome.state === 'failed') throw failedJobError(outcome.code, outcome.message);
    throw notFound(token);
  });

  app.get<{ Params: { token: string } }>('/api/v1/results/:token/image', async (request, reply) => {
    const result = findResult(request.params.token);
    const bytes = result.imageFile ? await images.read(result.imageFile) : undefined;
    if (!bytes) throw new HttpError(404, 'image_not_found', 'the image of this result is no longer stored');
    return reply
      .type(`image/${result.imageFormat}`)
      // The image belongs to whoever holds the token: browsers may keep it, shared caches must not.
      .header('cache-control', 'private, max-age=31536000, immutable')
      .send(bytes);
  });

  // Public: aggregates only (see UsageStats). Nothing on it can reach a result.
  app.get('/api/v1/stats', async (_request, reply) => {
    return reply.header('cache-control', 'no-store').send(store.stats());
  });

  // The most recent results (tokens and text), for the operator only; absent unless OPERATOR_TOKEN is set.
  const { operatorToken } = config;
  if (operatorToken) {
    app.get<{ Querystring: { limit?: string } }>('/api/v1/operator/recent', async (request, reply) => {
      requireOperator(request, operatorToken);
      const limit = Math.min(100, Math.max(1, Number.parseInt(request.query.limit ?? '10', 10) || 10));
      return reply.header('cache-control', 'no-store').send({ recent: store.recent(limit) });
    });
  }
}
