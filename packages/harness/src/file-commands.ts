/**
 * Parsers for the files that an action writes through @actions/core and the runner reads
 * after the step: GITHUB_OUTPUT, GITHUB_STATE, GITHUB_ENV (`name=value` lines or
 * `name<<DELIMITER` heredocs) and GITHUB_PATH (one directory a line).
 * Malformed content throws, as the runner fails the step on it.
 */
export function parseKeyValueFile(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') continue;
    const heredoc = line.indexOf('<<');
    const eq = line.indexOf('=');
    if (heredoc > 0 && (eq === -1 || heredoc < eq)) {
      const name = line.slice(0, heredoc);
      const delimiter = line.slice(heredoc + 2);
      if (delimiter === '') throw new Error(`file command: empty delimiter for "${name}" at line ${i + 1}`);
      const value: string[] = [];
      let closed = false;
      for (i++; i < lines.length; i++) {
        if (lines[i] === delimiter) {
          closed = true;
          break;
        }
        value.push(lines[i] as string);
      }
      if (!closed) throw new Error(`file command: no closing delimiter "${delimiter}" for "${name}"`);
      result[name] = value.join('\n');
    } else if (eq > 0) {
      result[line.slice(0, eq)] = line.slice(eq + 1);
    } else {
      throw new Error(`file command: line ${i + 1} is neither name=value nor name<<DELIMITER: ${JSON.stringify(line)}`);
    }
  }
  return result;
}

export function parsePathFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}
