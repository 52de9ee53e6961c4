// A small JSON path: `status`, `checks.model`, `lines[0].text`, `$.a["odd key"]`, `items[-1]`.

export type JsonPathStep = { key: string } | { index: number };

const IDENT = /^[A-Za-z_$][\w$-]*/;

export function parseJsonPath(path: string): JsonPathStep[] {
  let rest = path.trim();
  if (rest === '') throw new Error('the JSON path is empty.');
  if (rest === '$') return [];
  if (rest.startsWith('$')) rest = rest.slice(1);
  else if (!rest.startsWith('[')) rest = `.${rest}`;
  const steps: JsonPathStep[] = [];
  while (rest !== '') {
    if (rest.startsWith('.')) {
      const m = IDENT.exec(rest.slice(1));
      if (!m) throw new Error(`"${path}" is not a JSON path: expected a name after "." at "${rest}". Quote odd keys as ["key"].`);
      steps.push({ key: m[0] });
      rest = rest.slice(1 + m[0].length);
      continue;
    }
    const index = /^\[(-?\d+)\]/.exec(rest);
    if (index) {
      steps.push({ index: Number(index[1]) });
      rest = rest.slice(index[0].length);
      continue;
    }
    const quoted = /^\[("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\]/.exec(rest);
    if (quoted) {
      const q = quoted[1] as string;
      steps.push({ key: q.slice(1, -1).replace(/\\(.)/g, '$1') });
      rest = rest.slice(quoted[0].length);
      continue;
    }
    throw new Error(`"${path}" is not a JSON path: unexpected "${rest}". Write a.b, a[0] or a["odd key"].`);
  }
  return steps;
}

/** The value at the path, or `found: false` when any step is missing. */
export function readJsonPath(value: unknown, steps: JsonPathStep[]): { found: boolean; value?: unknown } {
  let current: unknown = value;
  for (const step of steps) {
    if ('index' in step) {
      if (!Array.isArray(current)) return { found: false };
      const i = step.index < 0 ? current.length + step.index : step.index;
      if (i < 0 || i >= current.length) return { found: false };
      current = current[i];
    } else {
      if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, step.key)) return { found: false };
      current = (current as Record<string, unknown>)[step.key];
    }
  }
  return { found: true, value: current };
}
