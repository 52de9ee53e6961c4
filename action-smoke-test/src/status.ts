// Expected HTTP status rules: `200`, `200-299`, `2xx`, or a list of those.

export interface StatusRange {
  from: number;
  to: number;
}

const CODE_MIN = 100;
const CODE_MAX = 599;

function code(text: string, whole: string): number {
  const n = Number(text);
  if (!/^\d{3}$/.test(text) || n < CODE_MIN || n > CODE_MAX) {
    throw new Error(`"${whole}" has ${text}, which is not an HTTP status (${CODE_MIN} to ${CODE_MAX}).`);
  }
  return n;
}

function parseOne(item: unknown): StatusRange {
  if (typeof item === 'number') {
    if (!Number.isInteger(item)) throw new Error(`${item} is not an HTTP status.`);
    const n = code(String(item), String(item));
    return { from: n, to: n };
  }
  if (typeof item !== 'string') throw new Error(`expected a status (200), a range (200-299 or 2xx) or a list of those, got ${JSON.stringify(item)}.`);
  const text = item.trim();
  const xx = /^([1-5])xx$/i.exec(text);
  if (xx) return { from: Number(xx[1]) * 100, to: Number(xx[1]) * 100 + 99 };
  const range = /^(\d+)\s*-\s*(\d+)$/.exec(text);
  if (range) {
    const from = code(range[1] as string, text);
    const to = code(range[2] as string, text);
    if (from > to) throw new Error(`"${text}" is a range that ends before it starts. Write the lower code first (${to}-${from}).`);
    return { from, to };
  }
  if (/^\d+$/.test(text)) {
    const n = code(text, text);
    return { from: n, to: n };
  }
  throw new Error(`"${text}" is not a status (200), a range (200-299) or a class (2xx).`);
}

/** Parses a status rule: a number, a string (`200-299`, `2xx`, `200, 204`) or a YAML list of those. */
export function parseStatusSpec(value: unknown): StatusRange[] {
  let items: unknown[];
  if (Array.isArray(value)) items = value;
  else if (typeof value === 'string') items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  else items = [value];
  if (items.length === 0) throw new Error('is empty. Give a status (200), a range (200-299) or a list.');
  return items.map(parseOne);
}

export function statusAllowed(status: number, ranges: StatusRange[]): boolean {
  return ranges.some((r) => status >= r.from && status <= r.to);
}
