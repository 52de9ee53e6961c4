import { describe, expect, it } from 'vitest';
import { formatBytes, parseByteSize } from '../src/bytes.ts';
import { shellQuote } from '../src/ssh/exec.ts';

describe('parseByteSize', () => {
  it.each([
    ['1GiB', 2 ** 30],
    ['512MiB', 512 * 2 ** 20],
    ['1.5GB', 1.5e9],
    ['500 MB', 5e8],
    ['2kib', 2048],
    ['100B', 100],
    ['0', 0],
    ['0GiB', 0],
  ])('%s is %d bytes', (raw, bytes) => {
    expect(parseByteSize(raw, 'min-free-space')).toBe(bytes);
  });

  it.each(['1024', '', '1 G', 'lots', '-1GiB', '1e3MB', `${'9'.repeat(20)}TiB`])('rejects %j and names the input', (raw) => {
    expect(() => parseByteSize(raw, 'min-free-space')).toThrow(/Input "min-free-space"/);
  });
});

describe('formatBytes', () => {
  it.each([
    [812, '812 B'],
    [3.4 * 2 ** 20, '3.40 MiB'],
    [300 * 2 ** 20, '300 MiB'],
    [1.21 * 2 ** 30, '1.21 GiB'],
    [2627342336, '2.45 GiB'],
  ])('%d is %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('shellQuote', () => {
  it('leaves plain words alone and single-quotes the rest, so the shell sees one literal word', () => {
    expect(shellQuote('/var/lib/docker')).toBe('/var/lib/docker');
    expect(shellQuote('-Pk')).toBe('-Pk');
    expect(shellQuote("/data/it's; rm -rf / $(x) `y`")).toBe(`'/data/it'\\''s; rm -rf / $(x) \`y\`'`);
    expect(shellQuote('')).toBe("''");
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });
});
