/**
 * Reading what the Engine API streams back from build, push and pull: one JSON object a
 * line (`stream`, `status`, `progress`, `aux`, `error`/`errorDetail`), and BuildKit's
 * status updates, which arrive as base64 protobuf in `aux` with id `moby.buildkit.trace`.
 */

export interface ProgressMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: unknown;
}

/** The error an engine reported inside a stream (the HTTP status was 200). */
export class EngineStreamError extends Error {
  readonly code: number | undefined;

  constructor(message: string, code?: number) {
    super(message);
    this.name = 'EngineStreamError';
    this.code = code;
  }
}

/** The error text of a message, if it carries one. */
export function messageError(message: ProgressMessage): string | undefined {
  return message.errorDetail?.message ?? message.error;
}

/**
 * Splits a byte stream into JSON messages, one a line. Lines that are not JSON (some
 * proxies add them) become `{ stream: line }` rather than failing the whole read.
 */
export async function* readJsonMessages(source: AsyncIterable<Buffer | string>): AsyncGenerator<ProgressMessage> {
  let partial = '';
  const decoder = new TextDecoder();
  const parse = (line: string): ProgressMessage | undefined => {
    const trimmed = line.trim();
    if (trimmed === '') return undefined;
    try {
      const parsed = JSON.parse(trimmed) as unknown;
      return typeof parsed === 'object' && parsed !== null ? (parsed) : { stream: trimmed };
    } catch {
      return { stream: trimmed };
    }
  };
  for await (const chunk of source) {
    partial += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const message = parse(line);
      if (message) yield message;
    }
  }
  partial += decoder.decode();
  const last = parse(partial);
  if (last) yield last;
}

// --- BuildKit status (moby.buildkit.v1.StatusResponse), decoded without a protobuf library ---

export interface BuildkitVertex {
  digest: string;
  inputs: string[];
  name: string;
  cached: boolean;
  /** Unix milliseconds, when given. */
  started?: number;
  completed?: number;
  error?: string;
}

export interface BuildkitVertexLog {
  vertex: string;
  /** 1 stdout, 2 stderr. */
  stream: number;
  message: string;
}

export interface BuildkitVertexWarning {
  vertex: string;
  message: string;
}

export interface BuildkitStatus {
  vertexes: BuildkitVertex[];
  logs: BuildkitVertexLog[];
  warnings: BuildkitVertexWarning[];
}

interface Field {
  field: number;
  wire: number;
  /** varint value (wire 0) */
  int?: bigint;
  /** length-delimited bytes (wire 2) */
  bytes?: Uint8Array;
}

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('protobuf: truncated varint');
    const byte = buf[pos++] as number;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7n;
    if (shift > 70n) throw new Error('protobuf: varint too long');
  }
}

function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos);
    pos = afterKey;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const [int, next] = readVarint(buf, pos);
      pos = next;
      yield { field, wire, int };
    } else if (wire === 2) {
      const [len, next] = readVarint(buf, pos);
      const end = next + Number(len);
      if (end > buf.length) throw new Error('protobuf: truncated field');
      yield { field, wire, bytes: buf.subarray(next, end) };
      pos = end;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      throw new Error(`protobuf: unsupported wire type ${wire}`);
    }
  }
}

const utf8 = new TextDecoder();
const text = (f: Field): string => (f.bytes ? utf8.decode(f.bytes) : '');

function timestampMs(bytes: Uint8Array | undefined): number | undefined {
  if (!bytes) return undefined;
  let seconds = 0n;
  let nanos = 0n;
  for (const f of fields(bytes)) {
    if (f.field === 1 && f.int !== undefined) seconds = f.int;
    if (f.field === 2 && f.int !== undefined) nanos = f.int;
  }
  return Number(seconds) * 1000 + Math.floor(Number(nanos) / 1e6);
}

function decodeVertex(bytes: Uint8Array): BuildkitVertex {
  const v: BuildkitVertex = { digest: '', inputs: [], name: '', cached: false };
  for (const f of fields(bytes)) {
    if (f.field === 1) v.digest = text(f);
    else if (f.field === 2) v.inputs.push(text(f));
    else if (f.field === 3) v.name = text(f);
    else if (f.field === 4) v.cached = f.int === 1n;
    else if (f.field === 5) v.started = timestampMs(f.bytes);
    else if (f.field === 6) v.completed = timestampMs(f.bytes);
    else if (f.field === 7) v.error = text(f);
  }
  return v;
}

function decodeLog(bytes: Uint8Array): BuildkitVertexLog {
  const log: BuildkitVertexLog = { vertex: '', stream: 1, message: '' };
  for (const f of fields(bytes)) {
    if (f.field === 1) log.vertex = text(f);
    else if (f.field === 3 && f.int !== undefined) log.stream = Number(f.int);
    else if (f.field === 4) log.message = text(f);
  }
  return log;
}

function decodeWarning(bytes: Uint8Array): BuildkitVertexWarning {
  const w: BuildkitVertexWarning = { vertex: '', message: '' };
  for (const f of fields(bytes)) {
    if (f.field === 1) w.vertex = text(f);
    else if (f.field === 3) w.message = text(f);
  }
  return w;
}

/** Decodes one `moby.buildkit.trace` payload (base64 protobuf StatusResponse). */
export function decodeBuildkitStatus(base64: string): BuildkitStatus {
  const status: BuildkitStatus = { vertexes: [], logs: [], warnings: [] };
  if (!base64) return status;
  for (const f of fields(Buffer.from(base64, 'base64'))) {
    if (!f.bytes) continue;
    if (f.field === 1) status.vertexes.push(decodeVertex(f.bytes));
    else if (f.field === 3) status.logs.push(decodeLog(f.bytes));
    else if (f.field === 4) status.warnings.push(decodeWarning(f.bytes));
  }
  return status;
}

/** The BuildKit status in a message, when it is a `moby.buildkit.trace`. */
export function buildkitStatusOf(message: ProgressMessage): BuildkitStatus | undefined {
  const aux = message.aux as { ID?: string } | string | undefined;
  if ((message as { id?: string }).id !== 'moby.buildkit.trace') return undefined;
  if (typeof aux === 'string') return decodeBuildkitStatus(aux);
  return undefined;
}

/** The image id a build reports: `aux.ID` (classic) or `moby.image.id` (BuildKit). */
export function builtImageIdOf(message: ProgressMessage): string | undefined {
  const aux = message.aux as { ID?: unknown } | undefined;
  if (aux && typeof aux === 'object' && typeof aux.ID === 'string' && aux.ID.startsWith('sha256:')) return aux.ID;
  return undefined;
}

/** The digest a push reports in its last `aux`: `{ Tag, Digest, Size }`. */
export function pushedDigestOf(message: ProgressMessage): { tag: string; digest: string; size: number } | undefined {
  const aux = message.aux as { Tag?: unknown; Digest?: unknown; Size?: unknown } | undefined;
  if (aux && typeof aux === 'object' && typeof aux.Digest === 'string') {
    return { tag: typeof aux.Tag === 'string' ? aux.Tag : '', digest: aux.Digest, size: typeof aux.Size === 'number' ? aux.Size : 0 };
  }
  return undefined;
}
