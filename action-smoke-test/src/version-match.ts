// Does what the app reports at /version match `expect-version`? A git sha (full, or a prefix of
// at least 7), a tag (`v1.2.3` matches `1.2.3`), an image digest or a whole image reference.

export interface VersionMatch {
  matched: boolean;
  /** The field that matched. */
  field?: string;
  /** What the app reported, as `field=value` pairs, for the message. */
  reported: string;
}

const FIELDS = ['version', 'tag', 'gitSha', 'sha', 'commit', 'revision', 'imageDigest', 'digest', 'image'] as const;
const SHA = /^[0-9a-f]{7,64}$/i;

function stripV(text: string): string {
  return text.replace(/^v(?=\d)/i, '');
}

/** The candidate spellings of the expected value: an image reference gives its tag and its digest. */
function expectedForms(expected: string): string[] {
  const forms = new Set([expected]);
  const at = expected.lastIndexOf('@');
  if (at > 0) forms.add(expected.slice(at + 1));
  const withoutDigest = at > 0 ? expected.slice(0, at) : expected;
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  if (colon > slash && slash !== -1) forms.add(withoutDigest.slice(colon + 1));
  return [...forms];
}

function valueMatches(field: string, reported: string, expected: string): boolean {
  const r = reported.trim();
  if (r === '' || r === 'unknown') return false;
  if (r === expected) return true;
  if (stripV(r) === stripV(expected)) return true;
  const isShaField = /sha|commit|revision/i.test(field);
  if (isShaField && SHA.test(r) && SHA.test(expected)) {
    const a = r.toLowerCase();
    const b = expected.toLowerCase();
    return a.startsWith(b) || b.startsWith(a);
  }
  if (/digest|image/i.test(field)) {
    const bare = (s: string): string => s.replace(/^.*@/, '').replace(/^sha256:/, '').toLowerCase();
    return bare(r) === bare(expected) && bare(r).length >= 12;
  }
  return false;
}

/** Matches `expected` against a /version answer (JSON object, or plain text). */
export function matchVersion(expected: string, answer: unknown): VersionMatch {
  const want = expected.trim();
  const forms = expectedForms(want);
  if (typeof answer === 'string') {
    const text = answer.trim();
    return { matched: forms.some((f) => valueMatches('version', text, f)), ...(text ? { field: 'body' } : {}), reported: JSON.stringify(text.slice(0, 120)) };
  }
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) {
    return { matched: false, reported: `a JSON ${Array.isArray(answer) ? 'list' : typeof answer}, not an object` };
  }
  const record = answer as Record<string, unknown>;
  const present = FIELDS.filter((f) => typeof record[f] === 'string' || typeof record[f] === 'number');
  const reported = present.map((f) => `${f}=${String(record[f])}`).join(' ') || `no version fields (keys: ${Object.keys(record).slice(0, 10).join(', ') || 'none'})`;
  for (const field of present) {
    const value = String(record[field]);
    if (forms.some((f) => valueMatches(field, value, f))) return { matched: true, field, reported };
  }
  return { matched: false, reported };
}
