import { ConfigurationError } from './errors.ts';

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)$/i;

/**
 * Parses a size like `1GiB`, `512MiB`, `1.5GB` or `0` into bytes. A bare number other than 0
 * is rejected, as `parseDuration` rejects one: `1024` could mean bytes or megabytes, and a
 * threshold a thousand times too small turns a safety check off without anyone noticing.
 */
export function parseByteSize(raw: string, input: string): number {
  const value = raw.trim();
  const hint = 'Use a number with a unit: B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB), for example "1GiB" or "500MB"; 0 turns it off.';
  if (value === '') throw new ConfigurationError(`Input "${input}" is empty. ${hint}`, input);
  if (/^0+(\.0+)?$/.test(value)) return 0;
  if (/^\d+(\.\d+)?$/.test(value)) throw new ConfigurationError(`Input "${input}" is "${value}", which has no unit. ${hint}`, input);
  const m = SIZE.exec(value);
  if (!m) throw new ConfigurationError(`Input "${input}" is "${value}", which is not a size. ${hint}`, input);
  const bytes = Math.round(Number(m[1]) * (UNIT_BYTES[(m[2] as string).toLowerCase()] as number));
  if (!Number.isSafeInteger(bytes)) throw new ConfigurationError(`Input "${input}" is "${value}", which is too large. ${hint}`, input);
  return bytes;
}

/** Bytes for people, in binary units: `812 B`, `3.4 MiB`, `1.21 GiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return `${bytes} B`;
  const sign = bytes < 0 ? '-' : '';
  let n = Math.abs(bytes);
  if (n < 1024) return `${sign}${Math.round(n)} B`;
  for (const unit of ['KiB', 'MiB', 'GiB', 'TiB']) {
    n /= 1024;
    if (n < 1024 || unit === 'TiB') return `${sign}${n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n)} ${unit}`;
  }
  return `${sign}${n} TiB`;
}
