// Keeps each uploaded image (already validated) as a file under DATA_DIR/images, named by its result token.
import { mkdirSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export class ImageStore {
  readonly #dir: string;

  constructor(dataDir: string) {
    this.#dir = path.join(dataDir, 'images');
    mkdirSync(this.#dir, { recursive: true });
  }

  /** Writes atomically (temp file + rename) and returns the file name relative to the images folder. */
  async save(token: string, extension: string, bytes: Uint8Array): Promise<string> {
    const name = `${token}.${extension}`;
    const target = path.join(this.#dir, name);
    const temporary = `${target}.${process.pid}.tmp`;
    await writeFile(temporary, bytes);
    await rename(temporary, target);
    return name;
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
