// The Debian packages Gangway's tests and lab need on a fresh machine, installed when missing.
//   node scripts/system-packages.ts            list what is missing
//   node scripts/system-packages.ts --install  apt-get install it (root)
import { ensurePackages, labPackages, missingPackages } from '../lab/src/packages.ts';

/**
 * The app's browser test (headless Chromium), the fonts its OCR test images are drawn with, and the
 * Redis its queue tests start on loopback (app/test/redis-server.ts).
 */
export const appTestPackages = ['chromium', 'fonts-dejavu-core', 'fonts-liberation', 'redis-server'] as const;

/**
 * The ACME client the lab's ACME test (lab/test/acme.itg.test.ts) runs inside a target's namespace
 * against the lab's pebble (which `labPackages` brings, with pebble-challtestsrv).
 */
export const labTestPackages = ['lego'] as const;

export const systemPackages: readonly string[] = [...labPackages, ...appTestPackages, ...labTestPackages];

const missing = missingPackages(systemPackages);
if (process.argv.includes('--install')) {
  const installed = ensurePackages(systemPackages);
  console.log(installed.length === 0 ? 'system packages: all present' : `system packages: installed ${installed.join(', ')}`);
} else {
  console.log(missing.length === 0 ? 'system packages: all present' : `missing: ${missing.join(' ')}`);
}
