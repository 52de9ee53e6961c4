// ssh2 falls back to an emscripten-built poly1305 when its native addon is not bundled (the
// actions leave it out: no .node file in dist/). That code reads the CommonJS `__dirname`,
// which does not exist in an ES-module bundle, and throws at load. Giving it one here, before
// ssh2 is imported, lets the pure-JS fallback load.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const g = globalThis as { __dirname?: string };
if (typeof g.__dirname !== 'string') g.__dirname = path.dirname(fileURLToPath(import.meta.url));
