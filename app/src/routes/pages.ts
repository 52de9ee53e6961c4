// The HTML pages (upload, share, dashboard) and their static assets, read once from app/public.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.ts';
import { appRoot } from '../config.ts';
import { isResultToken } from '../result-token.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

interface Asset {
  body: Buffer;
  type: string;
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[path.extname(name)];
    if (type) assets.set(name, { body: readFileSync(path.join(dir, name)), type });
  }
  return assets;
}

export function registerPageRoutes(app: FastifyInstance, context: AppContext, publicDir = path.join(appRoot, 'public')): void {
  const assets = loadAssets(publicDir);
  const page = (name: string): Asset => {
    const asset = assets.get(name);
    if (!asset) throw new Error(`app/public/${name} is missing`);
    return asset;
  };
  const index = page('index.html');
  const dashboard = page('dashboard.html');
  const notFound = page('not-found.html');

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      reply.header('referrer-policy', 'no-referrer');
    }
  });

  app.get('/', async (_request, reply) => reply.type(index.type).header('cache-control', 'no-cache').send(index.body));

  // A queued job's page exists while it waits or runs, and when it failed (the page shows why).
  const resultExists = async (token: string): Promise<boolean> => {
    if (context.store.get(token)) return true;
    if (!context.remote) return false;
    const outcome = await context.remote.lookup(token).catch(() => ({ state: 'pending' as const }));
    return outcome.state !== 'unknown';
  };

  app.get<{ Params: { token: string } }>('/r/:token', async (request, reply) => {
    const { token } = request.params;
    if (!isResultToken(token) || !(await resultExists(token))) {
      return reply.code(404).type(notFound.type).send(notFound.body);
    }
    return reply.type(index.type).header('cache-control', 'no-cache').send(index.body);
  });

  app.get('/dashboard', async (_request, reply) =>
    reply.type(dashboard.type).header('cache-control', 'no-cache').send(dashboard.body),
  );

  app.get<{ Params: { file: string } }>('/static/:file', async (request, reply) => {
    const asset = assets.get(request.params.file);
    if (!asset || request.params.file.endsWith('.html')) {
      return reply.code(404).send({ error: { code: 'not_found', message: 'no such asset', statusCode: 404 } });
    }
    return reply.type(asset.type).header('cache-control', 'no-cache').send(asset.body);
  });
}
