// `${{ }}` expressions, evaluated by GitHub's own expression engine (@actions/expressions):
// templates in strings, `if:` conditions with the status functions, and plain values turned
// into the engine's data and back.
import { Evaluator, Lexer, Parser, data } from '@actions/expressions';
import { TokenType } from '@actions/expressions/lexer';
import type { FunctionDefinition } from '@actions/expressions/funcs/info';
import { truthy } from '@actions/expressions/result';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** What the status functions answer where the expression is evaluated. */
export interface StatusFunctions {
  success: () => boolean;
  failure: () => boolean;
  cancelled: () => boolean;
}

export interface ExpressionScope {
  /** Context name → value (github, env, vars, secrets, inputs, needs, steps, job, runner). */
  contexts: Record<string, Json>;
  status?: StatusFunctions;
}

const STATUS_FUNCTIONS = ['success', 'failure', 'always', 'cancelled'] as const;

export class ExpressionError extends Error {
  readonly where: string;

  constructor(message: string, where: string) {
    super(`${where}: ${message}`);
    this.name = 'ExpressionError';
    this.where = where;
  }
}

export function toExpressionData(value: Json | undefined): data.ExpressionData {
  if (value === undefined || value === null) return new data.Null();
  if (typeof value === 'string') return new data.StringData(value);
  if (typeof value === 'number') return new data.NumberData(value);
  if (typeof value === 'boolean') return new data.BooleanData(value);
  if (Array.isArray(value)) return new data.Array(...value.map(toExpressionData));
  return new data.Dictionary(...Object.entries(value).map(([key, v]) => ({ key, value: toExpressionData(v) })));
}

export function fromExpressionData(value: data.ExpressionData): Json {
  return JSON.parse(JSON.stringify(value, data.replacer)) as Json;
}

function statusDefinitions(status: StatusFunctions | undefined, where: string): Map<string, FunctionDefinition> {
  const answer = (name: string, fn: (() => boolean) | undefined): FunctionDefinition => ({
    name,
    minArgs: 0,
    maxArgs: 0,
    call: () => {
      if (!fn) throw new ExpressionError(`${name}() may only be used in an if: condition`, where);
      return new data.BooleanData(fn());
    },
  });
  return new Map([
    ['success', answer('success', status?.success)],
    ['failure', answer('failure', status?.failure)],
    ['cancelled', answer('cancelled', status?.cancelled)],
    ['always', answer('always', status ? () => true : undefined)],
    ['hashFiles', { name: 'hashFiles', minArgs: 1, maxArgs: 255, call: () => { throw new ExpressionError('hashFiles() is not supported by the local runner', where); } }],
  ]);
}

function parse(expression: string, contexts: string[], where: string): { tree: ReturnType<Parser['parse']>; usesStatus: boolean } {
  try {
    const { tokens } = new Lexer(expression).lex();
    const usesStatus = tokens.some((t, i) => t.type === TokenType.IDENTIFIER && (STATUS_FUNCTIONS as readonly string[]).includes(t.lexeme.toLowerCase()) && tokens[i + 1]?.type === TokenType.LEFT_PAREN);
    const functions = [...STATUS_FUNCTIONS, 'hashFiles'].map((name) => ({ name, minArgs: 0, maxArgs: name === 'hashFiles' ? 255 : 0 }));
    return { tree: new Parser(tokens, contexts, functions).parse(), usesStatus };
  } catch (error) {
    throw new ExpressionError(`cannot parse \${{ ${expression} }}: ${(error as Error).message}`, where);
  }
}

/** Evaluates one expression (without `${{ }}`). */
export function evaluateExpression(expression: string, scope: ExpressionScope, where: string): data.ExpressionData {
  const names = Object.keys(scope.contexts);
  const { tree } = parse(expression, names, where);
  const context = new data.Dictionary(...names.map((key) => ({ key, value: toExpressionData(scope.contexts[key]) })));
  try {
    return new Evaluator(tree, context, statusDefinitions(scope.status, where)).evaluate();
  } catch (error) {
    if (error instanceof ExpressionError) throw error;
    throw new ExpressionError(`cannot evaluate \${{ ${expression} }}: ${(error as Error).message}`, where);
  }
}

const TEMPLATE = /\$\{\{([\s\S]*?)\}\}/g;

/** True when the text holds a `${{ }}`. */
export function hasExpression(text: string): boolean {
  return /\$\{\{[\s\S]*?\}\}/.test(text);
}

/**
 * A value as the runner evaluates it in YAML: a string with `${{ }}` parts is a template;
 * a string that is one `${{ }}` whole keeps the expression's type (a boolean for
 * continue-on-error, a number for timeout-minutes). Other values are returned as they are.
 */
export function evaluateValue(value: unknown, scope: ExpressionScope, where: string): Json {
  if (typeof value !== 'string') return value as Json;
  const whole = /^\s*\$\{\{([\s\S]*?)\}\}\s*$/.exec(value);
  if (whole && !whole[1]!.includes('}}')) return fromExpressionData(evaluateExpression(whole[1] as string, scope, where));
  return evaluateTemplate(value, scope, where);
}

/** A string with `${{ }}` parts, each replaced by its value as a string. */
export function evaluateTemplate(text: string, scope: ExpressionScope, where: string): string {
  return text.replace(TEMPLATE, (_, expression: string) => evaluateExpression(expression, scope, where).coerceString());
}

/** The string the runner hands an action or a variable: booleans and numbers as YAML writes them. */
export function asInputString(value: Json): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * An `if:` condition. Written with or without `${{ }}`; without a status function it means
 * `success() && (condition)`, as on GitHub.
 */
export function evaluateCondition(condition: unknown, scope: ExpressionScope, where: string): boolean {
  let text: string;
  if (condition === undefined || condition === null || condition === '') text = 'success()';
  else if (typeof condition === 'boolean') text = String(condition);
  else if (typeof condition === 'number') text = String(condition);
  else if (typeof condition === 'string') text = condition.trim();
  else throw new ExpressionError('if: must be a string or a boolean', where);
  const wrapped = /^\$\{\{([\s\S]*)\}\}$/.exec(text);
  if (wrapped && !wrapped[1]!.includes('${{')) text = (wrapped[1] as string).trim();
  else if (hasExpression(text)) {
    // `a ${{ b }}`: a template, truthy when non-empty (as GitHub treats a string).
    text = `'${evaluateTemplate(text, scope, where).replace(/'/g, "''")}'`;
  }
  const { usesStatus } = parse(text, Object.keys(scope.contexts), where);
  const full = usesStatus ? text : `success() && (${text})`;
  return truthy(evaluateExpression(full, scope, where));
}
