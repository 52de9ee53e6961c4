// The lab's Redis stand-in image (redisRecipe: Debian's redis-server, no registry), made on demand.
import { redisRecipe } from './images.ts';
import { ensureRecipeImage, type EnsuredImage } from './on-demand-image.ts';

export const REDIS_IMAGE = 'redis:7-bookworm';

/** Imports the Redis image into the engine behind `socket` unless it already has this recipe; returns the tag. */
export function ensureRedisImage(socket: string): Promise<EnsuredImage> {
  return ensureRecipeImage(socket, redisRecipe());
}
