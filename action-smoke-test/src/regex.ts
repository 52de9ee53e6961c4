// Regular expressions written in YAML: `pattern`, `(?i)pattern` or `/pattern/flags`.

const SLASHED = /^\/(.*)\/([dgimsuvy]*)$/s;

export function parseRegex(text: string): RegExp {
  let source = text;
  let flags = '';
  const slashed = SLASHED.exec(text);
  if (slashed) {
    source = slashed[1] as string;
    flags = (slashed[2] as string).replace(/[gy]/g, '');
  } else if (text.startsWith('(?i)')) {
    source = text.slice(4);
    flags = 'i';
  }
  try {
    return new RegExp(source, flags);
  } catch (error) {
    throw new Error(`"${text}" is not a valid regular expression: ${(error as Error).message}`, { cause: error });
  }
}

/** The pattern as written back for people: /source/flags. */
export function showRegex(re: RegExp): string {
  return `/${re.source}/${re.flags}`;
}
