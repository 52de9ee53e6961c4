// The lab's Redis stand-in image (redisRecipe: Debian's redis-server, no registry), made on demand in an
// engine of the lab: built from the cached rootfs when the engine lacks it or holds an older recipe.
import { buildRootfs, importImage, redisRecipe } from './images.ts';
import { run } from './exec.ts';

export const REDIS_IMAGE = 'redis:7-bookworm';

/** Imports the Redis image into the engine behind `socket` unless it already has this recipe; returns the tag. */
export async function ensureRedisImage(socket: string): Promise<{ tag: string; built: boolean; key: string }> {
  const image = await buildRootfs(redisRecipe());
  const have = run('docker', ['-H', `unix://${socket}`, 'image', 'inspect', '--format', '{{ index .Config.Labels "org.gangway.lab.recipe" }}', REDIS_IMAGE], { allowFailure: true });
  if (have.status === 0 && have.stdout.trim() === image.key) return { tag: REDIS_IMAGE, built: false, key: image.key };
  await importImage(socket, image);
  return { tag: REDIS_IMAGE, built: true, key: image.key };
}
