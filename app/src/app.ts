// Builds the Fastify instance from the app's services: plugins, routes, error shape, request metrics.
import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { AppContext } from './app-context.ts';
import { HttpError, errorBody, isStorageFull } from './http-errors.ts';
import { registerApiRoutes } from './routes/api.ts';
import { registerOpsRoutes } from './routes/ops.ts';
import { registerPageRoutes } from './routes/pages.ts';

/** Fastify's own client-error codes, renamed to the app's stable ones. */
const FASTIFY_ERROR_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'upload_too_large',
  FST_REQ_FILE_TOO_LARGE: 'upload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'bad_request',
  FST_FILES_LIMIT: 'too_many_files',
  FST_PARTS_LIMIT: 'too_many_parts',
};

export async function buildApp(context: AppContext, options: { logger?: FastifyServerOptions['logger'] } = {}): Promise<FastifyInstance> {
  const { config, metrics, lifecycle } = context;
  const app = Fastify({
    logger: options.logger ?? false,
    // Uploads may be multipart with a little overhead beyond the file itself.
    bodyLimit: config.maxUploadBytes + 64 * 1024,
    // Requests arriving on kept-alive connections once close() started get 503 (Fastify's default, said out loud).
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestTimeout: 120_000,
    connectionTimeout: 0,
    keepAliveTimeout: 5000,
  });

  await app.register(multipart, {
    limits: { fileSize: config.maxUploadBytes, files: 1, fields: 10, parts: 12, fieldSize: 1024 },
  });

  app.addHook('onRequest', async () => {
    lifecycle.requestStarted();
  });
  app.addHook('onResponse', async (request, reply) => {
    lifecycle.requestFinished();
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    if (error instanceof HttpError) {
      return reply.code(error.statusCode).headers(error.headers).send(errorBody(error.statusCode, error.code, error.message));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = FASTIFY_ERROR_CODES[error.code] ?? 'bad_request';
      return reply.code(status).send(errorBody(status, code, error.message));
    }
    if (isStorageFull(error)) {
      // The server's disk is full: say so (and that a retry may work), rather than a bare 500.
      request.log.error({ err: error }, 'no disk space left to store the request');
      return reply.code(507).header('retry-after', '30').send(errorBody(507, 'insufficient_storage', 'the server has no disk space left to store this; try again later'));
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send(errorBody(500, 'internal_error', 'the server failed to handle this request'));
  });

  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send(errorBody(404, 'not_found', `no route ${request.method} ${request.url.slice(0, 200)}`));
  });

  registerOpsRoutes(app, context);
  registerApiRoutes(app, context);
  registerPageRoutes(app, context);
  return app;
}
