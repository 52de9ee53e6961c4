// Stand-in images the lab does not import on `lab:up` (redis, caddy): made on demand in an engine of the
// lab, from the cached rootfs, when the engine lacks the image or holds an older recipe of it.
import { buildRootfs, importImage, type ImageRecipe } from './images.ts';
import { run } from './exec.ts';

export interface EnsuredImage {
  /** The recipe's first tag. */
  tag: string;
  /** False when the engine already held this recipe. */
  built: boolean;
  key: string;
}

/** Imports `recipe`'s image into the engine behind `socket` unless it already has this recipe; returns its first tag. */
export async function ensureRecipeImage(socket: string, recipe: ImageRecipe): Promise<EnsuredImage> {
  const tag = recipe.tags[0];
  if (!tag) throw new Error(`recipe ${recipe.name} has no tag`);
  const image = await buildRootfs(recipe);
  const have = run('docker', ['-H', `unix://${socket}`, 'image', 'inspect', '--format', '{{ index .Config.Labels "org.gangway.lab.recipe" }}', tag], { allowFailure: true });
  if (have.status === 0 && have.stdout.trim() === image.key) return { tag, built: false, key: image.key };
  await importImage(socket, image);
  return { tag, built: true, key: image.key };
}
