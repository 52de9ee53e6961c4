/**
 * The `::command key=value,...::message` lines that actions print on stdout, decoded as
 * the runner decodes them, and the log the runner would show: `add-mask` lines consumed,
 * masked values replaced by `***` from the moment they are registered.
 */
export interface WorkflowCommand {
  command: string;
  properties: Record<string, string>;
  message: string;
  /** Index of the stdout line that carried it. */
  line: number;
}

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  message: string;
  properties: Record<string, string>;
}

const COMMAND = /^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$/;

function unescapeData(s: string): string {
  return s.replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%');
}

function unescapeProperty(s: string): string {
  return s
    .replace(/%0D/gi, '\r')
    .replace(/%0A/gi, '\n')
    .replace(/%3A/gi, ':')
    .replace(/%2C/gi, ',')
    .replace(/%25/g, '%');
}

export function parseCommandLine(text: string, line = 0): WorkflowCommand | undefined {
  const m = COMMAND.exec(text);
  if (!m) return undefined;
  const properties: Record<string, string> = {};
  for (const pair of (m[2] ?? '').split(',')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq > 0) properties[pair.slice(0, eq)] = unescapeProperty(pair.slice(eq + 1));
  }
  return { command: m[1] as string, properties, message: unescapeData(m[3] ?? ''), line };
}

export interface RenderedLog {
  /** What the runner's log would show, masks applied, commands rendered. */
  log: string;
  commands: WorkflowCommand[];
  annotations: Annotation[];
  masks: string[];
  /** Raw stdout without the add-mask lines (which the runner never shows). */
  printed: string;
}

function applyMasks(text: string, masks: string[]): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const mask of [...masks].sort((a, b) => b.length - a.length)) {
    if (mask !== '') out = out.split(mask).join('***');
  }
  return out;
}

export function renderLog(stdout: string): RenderedLog {
  const commands: WorkflowCommand[] = [];
  const annotations: Annotation[] = [];
  const masks: string[] = [];
  const shown: string[] = [];
  const printed: string[] = [];
  stdout.split('\n').forEach((text, index) => {
    const cmd = parseCommandLine(text.replace(/\r$/, ''), index);
    if (cmd) commands.push(cmd);
    if (cmd?.command === 'add-mask') {
      masks.push(cmd.message);
      for (const line of cmd.message.split(/\r?\n/)) if (line.trim() !== '') masks.push(line.trim());
      return;
    }
    printed.push(text);
    if (!cmd) {
      shown.push(applyMasks(text, masks));
      return;
    }
    switch (cmd.command) {
      case 'error':
      case 'warning':
      case 'notice':
        annotations.push({ level: cmd.command, message: applyMasks(cmd.message, masks), properties: cmd.properties });
        shown.push(`${cmd.command.charAt(0).toUpperCase()}${cmd.command.slice(1)}: ${applyMasks(cmd.message, masks)}`);
        break;
      case 'group':
        shown.push(`▸ ${applyMasks(cmd.message, masks)}`);
        break;
      case 'endgroup':
        break;
      case 'debug':
        shown.push(`##[debug]${applyMasks(cmd.message, masks)}`);
        break;
      default:
        shown.push(applyMasks(text, masks));
    }
  });
  return { log: shown.join('\n'), commands, annotations, masks, printed: printed.join('\n') };
}
