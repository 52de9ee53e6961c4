import { describe, expect, it } from 'vitest';
import { recipeKey, redisRecipe } from '../src/images.ts';

describe('the Redis stand-in image', () => {
  const recipe = redisRecipe();

  it("comes from Debian's redis-server package, tagged like the official image", () => {
    expect(recipe.includes).toEqual(['redis-server']);
    expect(recipe.tags).toContain('redis:7-bookworm');
    expect(recipe.changes).toContain('CMD ["redis-server","/etc/redis/redis-container.conf"]');
    expect(recipe.changes).toContain('USER redis');
  });

  it('keeps every accepted job (append-only file, fsync always) and never evicts a queue key', () => {
    expect(recipe.hook).toMatch(/appendonly yes/);
    expect(recipe.hook).toMatch(/appendfsync always/);
    expect(recipe.hook).toMatch(/maxmemory-policy noeviction/);
    expect(recipe.hook).toMatch(/dir \/data/);
    expect(recipe.buildChanges?.join('\n')).toMatch(/HEALTHCHECK .*redis-cli","ping/);
  });

  it('has a cache key of its own, stable across calls', () => {
    expect(recipeKey(recipe)).toBe(recipeKey(redisRecipe()));
  });
});
