// GitHub's published OpenAPI description of api.github.com (from @octokit/openapi), turned
// into what a test server needs: find the operation of a request, validate its path, query
// and body against the operation's parameters and request schema, and build responses
// from the description's own examples that validate against the response schema.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonObject;
}

interface MediaType {
  schema?: JsonObject;
  examples?: Record<string, { $ref?: string; value?: Json }>;
  example?: Json;
}

interface RawOperation {
  operationId: string;
  parameters?: Array<Parameter | { $ref: string }>;
  requestBody?: { required?: boolean; content?: Record<string, MediaType> };
  responses: Record<string, { $ref?: string; description?: string; content?: Record<string, MediaType>; headers?: Record<string, unknown> }>;
}

interface Description {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, RawOperation>>;
  components: {
    schemas: Record<string, JsonObject>;
    parameters: Record<string, Parameter>;
    examples: Record<string, { value: Json }>;
    responses: Record<string, { description?: string; content?: Record<string, MediaType> }>;
  };
}

export interface Operation {
  operationId: string;
  method: string;
  /** The path template of the description, e.g. /repos/{owner}/{repo}/issues/{issue_number}. */
  template: string;
  parameters: Parameter[];
  raw: RawOperation;
  pattern: RegExp;
  pathNames: string[];
}

export interface MatchedRequest {
  operation: Operation;
  /** Path parameters, coerced to the schema's types. */
  params: Record<string, string | number>;
  /** Query parameters, coerced to the schema's types. */
  query: Record<string, string | number | boolean>;
}

const require = createRequire(import.meta.url);
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

/** Where the description lives: the package's plain (not dereferenced) api.github.com JSON. */
export function descriptionFile(): string {
  return path.join(path.dirname(require.resolve('@octokit/openapi/package.json')), 'generated', 'api.github.com.json');
}

/**
 * OpenAPI 3.0's `nullable` is not JSON Schema: `type: string, nullable: true` becomes
 * `type: [string, null]`, a nullable schema without a type becomes `anyOf [it, null]`.
 * Only schema positions are walked, so a property that happens to be named `nullable` stays.
 */
function toJsonSchema(schema: Json): Json {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'nullable') continue;
    if ((key === 'properties' || key === 'patternProperties') && value && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, toJsonSchema(sub)]));
    } else if (key === 'items' || key === 'additionalProperties' || key === 'not') {
      out[key] = toJsonSchema(value);
    } else if ((key === 'allOf' || key === 'anyOf' || key === 'oneOf') && Array.isArray(value)) {
      out[key] = value.map(toJsonSchema);
    } else {
      out[key] = value;
    }
  }
  if (schema.nullable === true) {
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
      return out;
    }
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

/** Names of the component schemas `schema` reaches through `$ref`, transitively. */
function reachableSchemas(schema: Json, all: Record<string, JsonObject>, found = new Set<string>()): Set<string> {
  const visit = (node: Json): void => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    const ref = node.$ref;
    if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) {
      const name = ref.slice('#/components/schemas/'.length);
      if (!found.has(name)) {
        found.add(name);
        visit(all[name] ?? null);
      }
    }
    for (const [key, value] of Object.entries(node)) if (key !== '$ref' && key !== 'example' && key !== 'examples') visit(value);
  };
  visit(schema);
  return found;
}

const formatErrors = (errors: ErrorObject[] | null | undefined): string[] =>
  (errors ?? []).slice(0, 8).map((e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword}${e.params && 'allowedValues' in e.params ? ` (${JSON.stringify(e.params.allowedValues)})` : ''}`);

/** GitHub's REST API description with validators compiled on demand. */
export class GitHubApiDescription {
  readonly version: string;
  readonly #doc: Description;
  readonly #operations: Operation[] = [];
  readonly #byId = new Map<string, Operation>();
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #ajv: Ajv;

  constructor(doc: Description) {
    this.#doc = doc;
    this.version = doc.info.version;
    this.#ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.#ajv);
    for (const [template, item] of Object.entries(doc.paths)) {
      for (const [method, raw] of Object.entries(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete', 'head'].includes(method)) continue;
        const pathNames: string[] = [];
        const pattern = new RegExp(
          '^' +
            template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{([^}]+)\\?\}/g, (_, name: string) => {
              pathNames.push(name);
              return '([^/]+)';
            }) +
            '$',
        );
        const parameters = (raw.parameters ?? []).map((p) => this.#parameter(p));
        const operation: Operation = { operationId: raw.operationId, method: method.toUpperCase(), template, parameters, raw, pattern, pathNames };
        this.#operations.push(operation);
        this.#byId.set(raw.operationId, operation);
      }
    }
    // Literal segments win over parameters: /issues/comments before /issues/{issue_number}.
    this.#operations.sort((a, b) => a.pathNames.length - b.pathNames.length);
  }

  #parameter(p: Parameter | { $ref: string }): Parameter {
    if ('$ref' in p) {
      const name = p.$ref.replace('#/components/parameters/', '');
      const found = this.#doc.components.parameters[name];
      if (!found) throw new Error(`description: unknown parameter ${p.$ref}`);
      return found;
    }
    return p;
  }

  operation(operationId: string): Operation {
    const op = this.#byId.get(operationId);
    if (!op) throw new Error(`GitHub's API description has no operation ${operationId}`);
    return op;
  }

  /**
   * The operation a request addresses and its coerced parameters, or the list of
   * problems (unknown path or method, bad path or query parameter).
   */
  match(method: string, pathname: string, search: URLSearchParams): { ok: true; request: MatchedRequest } | { ok: false; status: number; problems: string[] } {
    const candidates = this.#operations.filter((o) => o.pattern.test(pathname));
    if (candidates.length === 0) return { ok: false, status: 404, problems: [`${method} ${pathname}: no such path in GitHub's REST API description`] };
    const operation = candidates.find((o) => o.method === method);
    if (!operation) {
      return { ok: false, status: 404, problems: [`${method} ${pathname}: ${candidates[0]?.template} has no ${method} (only ${[...new Set(candidates.map((c) => c.method))].join(', ')})`] };
    }
    const problems: string[] = [];
    const values = operation.pattern.exec(pathname)?.slice(1) ?? [];
    const params: Record<string, string | number> = {};
    operation.pathNames.forEach((name, i) => {
      const spec = operation.parameters.find((p) => p.in === 'path' && p.name === name);
      const raw = decodeURIComponent(values[i] ?? '');
      const value = this.#coerce(raw, spec?.schema);
      const problem = this.#checkValue(`path parameter ${name}`, value, spec?.schema);
      if (problem) problems.push(problem);
      params[name] = value as string | number;
    });
    const query: Record<string, string | number | boolean> = {};
    for (const [name, raw] of search) {
      const spec = operation.parameters.find((p) => p.in === 'query' && p.name === name);
      if (!spec) {
        problems.push(`query parameter "${name}" is not a parameter of ${operation.operationId}`);
        continue;
      }
      const value = this.#coerce(raw, spec.schema);
      const problem = this.#checkValue(`query parameter ${name}`, value, spec.schema);
      if (problem) problems.push(problem);
      query[name] = value as string | number | boolean;
    }
    for (const p of operation.parameters) {
      if (p.in === 'query' && p.required && !search.has(p.name)) problems.push(`required query parameter "${p.name}" is missing`);
    }
    if (problems.length > 0) return { ok: false, status: 422, problems: problems.map((p) => `${operation.operationId}: ${p}`) };
    return { ok: true, request: { operation, params, query } };
  }

  #coerce(raw: string, schema: JsonObject | undefined): unknown {
    const type = schema?.type;
    if ((type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
    if (type === 'boolean' && (raw === 'true' || raw === 'false')) return raw === 'true';
    return raw;
  }

  #checkValue(what: string, value: unknown, schema: JsonObject | undefined): string | undefined {
    if (!schema) return undefined;
    const validate = this.#compile(`value:${JSON.stringify(schema)}`, schema);
    return validate(value) ? undefined : `${what}=${JSON.stringify(value)}: ${formatErrors(validate.errors).join('; ')}`;
  }

  /** Problems of a JSON request body against the operation's request schema ([] when valid). */
  checkBody(operation: Operation, body: unknown, contentType: string | undefined): string[] {
    const spec = operation.raw.requestBody;
    if (!spec) return body === undefined ? [] : [`${operation.operationId} takes no request body`];
    if (body === undefined) return spec.required ? [`${operation.operationId} needs a request body`] : [];
    const media = spec.content?.['application/json'];
    if (!media?.schema) return [];
    if (contentType && !contentType.startsWith('application/json')) return [`${operation.operationId}: body sent as ${contentType}, not application/json`];
    const validate = this.#compile(`body:${operation.operationId}`, media.schema);
    return validate(body) ? [] : formatErrors(validate.errors).map((e) => `${operation.operationId} request body ${e}`);
  }

  #responseMedia(operation: Operation, status: number): MediaType | undefined {
    let response = operation.raw.responses[String(status)];
    if (response?.$ref) response = this.#doc.components.responses[response.$ref.replace('#/components/responses/', '')];
    return response?.content?.['application/json'];
  }

  /** Whether the description lists `status` among the operation's responses. */
  hasResponse(operation: Operation, status: number): boolean {
    return String(status) in operation.raw.responses;
  }

  /** Problems of a response body against the operation's schema for `status` ([] when valid). */
  checkResponse(operation: Operation, status: number, body: unknown): string[] {
    if (!this.hasResponse(operation, status)) return [`${operation.operationId} has no ${status} response in the description`];
    const media = this.#responseMedia(operation, status);
    if (!media?.schema) return [];
    const validate = this.#compile(`response:${operation.operationId}:${status}`, media.schema);
    return validate(body) ? [] : formatErrors(validate.errors).map((e) => `${operation.operationId} ${status} response ${e}`);
  }

  /** A fresh copy of a named example of the description (components/examples). */
  example(name: string): Json {
    const found = this.#doc.components.examples[name];
    if (!found) throw new Error(`GitHub's API description has no example "${name}"`);
    return structuredClone(found.value);
  }

  /** A component schema, converted to JSON Schema (refs left as they are). */
  schema(name: string): JsonObject {
    const found = this.#doc.components.schemas[name];
    if (!found) throw new Error(`GitHub's API description has no schema "${name}"`);
    return found;
  }

  /**
   * Adds to `value` every required property its schema asks for that it lacks, with a
   * plausible value from the schema (its example, first enum value, format, type).
   * GitHub's own examples are not always complete (the job example lacks created_at).
   */
  complete(schemaName: string, value: Json): Json {
    return this.#complete(this.schema(schemaName), value, 0);
  }

  #deref(schema: JsonObject): JsonObject {
    let s = schema;
    for (let i = 0; i < 10 && typeof s.$ref === 'string'; i++) s = this.schema(s.$ref.replace('#/components/schemas/', ''));
    return s;
  }

  #complete(raw: JsonObject, value: Json, depth: number): Json {
    const schema = this.#deref(raw);
    if (depth > 8) return value;
    if (Array.isArray(schema.allOf)) {
      let v = value;
      for (const part of schema.allOf) v = this.#complete(part as JsonObject, v, depth + 1);
      return v;
    }
    if (value === undefined) value = this.#sample(schema, depth);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const props = (schema.properties ?? {}) as Record<string, JsonObject>;
      for (const name of (schema.required ?? []) as string[]) {
        if (!(name in value)) value[name] = this.#sample(props[name] ?? {}, depth + 1);
      }
      for (const [name, sub] of Object.entries(props)) {
        const v = value[name];
        if (v && typeof v === 'object' && !Array.isArray(v)) value[name] = this.#complete(sub, v, depth + 1);
        if (Array.isArray(v) && sub.items) value[name] = v.map((item) => (item && typeof item === 'object' ? this.#complete(this.#deref(sub).items as JsonObject, item, depth + 1) : item));
      }
    }
    return value;
  }

  #sample(raw: JsonObject, depth: number): Json {
    const schema = this.#deref(raw);
    if (schema.example !== undefined) return structuredClone(schema.example);
    if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0] ?? null;
    if (schema.nullable === true) return null;
    if (Array.isArray(schema.allOf) || Array.isArray(schema.oneOf) || Array.isArray(schema.anyOf)) {
      const first = ((schema.allOf ?? schema.oneOf ?? schema.anyOf) as JsonObject[])[0];
      return first ? this.#complete(first, undefined as unknown as Json, depth + 1) : null;
    }
    switch (schema.type) {
      case 'string':
        if (schema.format === 'date-time') return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        if (schema.format === 'uri') return 'https://api.github.com/';
        if (schema.format === 'email') return 'octocat@github.com';
        return 'string';
      case 'integer':
      case 'number':
        return typeof schema.minimum === 'number' ? schema.minimum : 1;
      case 'boolean':
        return false;
      case 'array':
        return [];
      case 'object': {
        const out: JsonObject = {};
        return this.#complete(schema, out, depth + 1);
      }
      default:
        return null;
    }
  }

  #compile(key: string, schema: JsonObject): ValidateFunction {
    let validate = this.#validators.get(key);
    if (!validate) {
      const names = reachableSchemas(schema, this.#doc.components.schemas);
      const schemas = Object.fromEntries([...names].map((n) => [n, toJsonSchema(this.#doc.components.schemas[n] ?? {})]));
      validate = this.#ajv.compile({ ...(toJsonSchema(schema) as JsonObject), components: { schemas } });
      this.#validators.set(key, validate);
    }
    return validate;
  }
}

let loaded: GitHubApiDescription | undefined;

/** The description, parsed once per process (about 13 MB of JSON). */
export function loadGitHubApiDescription(): GitHubApiDescription {
  loaded ??= new GitHubApiDescription(JSON.parse(readFileSync(descriptionFile(), 'utf8')) as Description);
  return loaded;
}

export type { Json, JsonObject };
