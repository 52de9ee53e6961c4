// The secrets hidden in the `url` and `checks` inputs: the password of any URL's userinfo
// (`https://deploy:pw@host`, in `url` and in every check's url or path) and every header value.
// They are found and registered with the runner's masker before anything is validated, so no
// error about a malformed check can print them; and userinfo is cut from every label and
// error message, so nothing relies on the masker alone.
import { registerSecret } from '@gangway/kit';
import { parse as parseYaml } from 'yaml';

/** `//userinfo@` in any text: up to the last `@` before the host's end, as URL parsers read it. */
const USERINFO = /\/\/([^/?#\\\s"']*)@/g;
/** The same, where the password may hold spaces (a YAML value, one line). */
const USERINFO_LOOSE = /\/\/([^/?#\\\r\n]*)@/g;

function decoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The password parts of every `scheme://user:password@` in `text` (raw and percent-decoded). */
export function userinfoPasswords(text: string): string[] {
  const found = new Set<string>();
  const add = (userinfo: string): void => {
    const colon = userinfo.indexOf(':');
    if (colon === -1) return;
    const password = userinfo.slice(colon + 1);
    if (password === '') return;
    found.add(password);
    found.add(decoded(password));
    // A password with an unencoded "@" ends at the last one; the shortest reading too.
    const first = password.indexOf('@');
    if (first > 0) {
      found.add(password.slice(0, first));
      found.add(decoded(password.slice(0, first)));
    }
  };
  for (const pattern of [USERINFO, USERINFO_LOOSE]) for (const m of text.matchAll(pattern)) add(m[1] as string);
  try {
    const url = new URL(text.trim());
    if (url.password) {
      found.add(url.password);
      found.add(decoded(url.password));
    }
  } catch {
    // not one whole URL: the patterns above did what can be done
  }
  return [...found].filter((s) => s.trim() !== '');
}

/** `text` with the userinfo of every URL in it removed: `https://deploy:pw@h/x` → `https://h/x`. */
export function stripUserinfo(text: string): string {
  return text.replace(USERINFO, '//');
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Finds, registers (core.setSecret) and returns every secret in the raw `url` and `checks`
 * inputs, before either is validated: URL passwords anywhere in them, and the value of every
 * header of every check that parses far enough to have one.
 */
export function registerInputSecrets(rawUrl: string, rawChecks: string): string[] {
  const secrets = new Set<string>([...userinfoPasswords(rawUrl), ...userinfoPasswords(rawChecks)]);
  let doc: unknown;
  try {
    doc = parseYaml(rawChecks);
  } catch {
    doc = undefined; // invalid YAML: the text scan above is all there is
  }
  for (const check of Array.isArray(doc) ? doc : []) {
    if (!isMapping(check)) continue;
    for (const key of ['url', 'path']) {
      const value = check[key];
      if (typeof value === 'string') for (const s of userinfoPasswords(value)) secrets.add(s);
    }
    if (isMapping(check.headers)) {
      for (const value of Object.values(check.headers)) {
        if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
          const text = String(value);
          if (text.trim() !== '') secrets.add(text);
        }
      }
    }
  }
  for (const secret of secrets) registerSecret(secret);
  return [...secrets];
}
