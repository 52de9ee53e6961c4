// Keeps each uploaded image (already validated) as a file under DATA_DIR/images, named by its result token.
import { mkdirSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export class ImageStore {
  readonly #dir: string;

  constructor(dataDir: string) {
    this.#dir = path.join(dataDir, 'images');
    mkdirSync(this.#dir, { recursive: true });
  }

  /**
   * Writes the file and returns its name relative to the images folder. No reader can know the name before
   * the result row exists, and the row is written after this resolves, so no temp file + rename is needed.
   */
  async save(token: string, extension: string, bytes: Uint8Array): Promise<string> {
    const name = `${token}.${extension}`;
    await writeFile(path.join(this.#dir, name), bytes, { flag: 'wx' });
    return name;
  }

  async remove(name: string): Promise<void> {
    if (name !== path.basename(name)) return;
    await rm(path.join(this.#dir, name), { force: true });
  }

  async read(name: string): Promise<Buffer | undefined> {
    if (name !== path.basename(name)) return undefined;
    try {
      return await readFile(path.join(this.#dir, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
}
