// The bundle is an ES module, but ssh2 (pulled in by dockerode's docker-modem) reads the
// CommonJS `__dirname` while it loads. Give it the bundle's folder before anything else loads.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const scope = globalThis as { __dirname?: string; __filename?: string };
scope.__filename ??= fileURLToPath(import.meta.url);
scope.__dirname ??= path.dirname(scope.__filename);
