// The lab's Caddy stand-in image (caddyRecipe: Debian's caddy 2.6.2, no registry), made on demand.
import { caddyRecipe } from './images.ts';
import { ensureRecipeImage, type EnsuredImage } from './on-demand-image.ts';

export const CADDY_IMAGE = 'caddy:2.6';

/** Imports the Caddy image into the engine behind `socket` unless it already has this recipe; returns the tag. */
export function ensureCaddyImage(socket: string): Promise<EnsuredImage> {
  return ensureRecipeImage(socket, caddyRecipe());
}
