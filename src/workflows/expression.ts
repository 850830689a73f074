import jsonata from 'jsonata';
import { LinearRegExp, linearRegexProblem } from './linear-regexp.js';
import { RetrySignal } from '../connectors/shared/retry-signal.js';

/** Limits on every evaluation: an expression that never finishes fails the step instead of hanging the worker. */
export interface ExpressionLimits {
  /** Milliseconds. Default 1000. */
  timeout: number;
  /** Maximum evaluation depth (runaway recursion). Default 500. */
  stack: number;
}

export const DEFAULT_LIMITS: ExpressionLimits = { timeout: 1000, stack: 500 };

export interface CompiledExpression {
  source: string;
  /** The parsed expression (JSONata's syntax tree), for analyses such as customerReads. */
  ast: unknown;
  evaluate: (input: unknown, bindings?: Record<string, unknown>) => Promise<unknown>;
}

/** A JSONata syntax error with the character offset where it was found. */
export class ExpressionSyntaxError extends Error {
  override name = 'ExpressionSyntaxError';
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

/** An evaluation failed (type error, time limit...): deterministic, so retrying the same input will not help. */
export class ExpressionError extends RetrySignal {
  override name = 'ExpressionError';
  constructor(message: string) {
    super(message, false);
  }
}

/** Compiles once (at load); evaluations are then cheap and time-limited. */
export function compileExpression(source: string, limits: ExpressionLimits = DEFAULT_LIMITS): CompiledExpression {
  let expression: jsonata.Expression;
  try {
    expression = jsonata(source, {
      timeout: limits.timeout,
      stack: limits.stack,
      RegexEngine: LinearRegExp as unknown as RegExpConstructor,
    });
  } catch (error) {
    const { message, position } = error as { message: string; position?: number };
    throw new ExpressionSyntaxError(`JSONata syntax error at character ${position ?? 0}: ${message}`, position ?? 0);
  }
  for (const regex of regexLiterals(expression.ast())) {
    const problem = linearRegexProblem(regex.value);
    if (problem)
      throw new ExpressionSyntaxError(
        `JSONata regular expression at character ${regex.position}: ${problem} (regular expressions run in linear time: no backreferences or lookaround)`,
        regex.position,
      );
  }
  return {
    source,
    ast: expression.ast(),
    evaluate: async (input, bindings) => {
      try {
        return await expression.evaluate(input, bindings);
      } catch (error) {
        const { message, code, position } = error as { message?: string; code?: string; position?: number };
        throw new ExpressionError(
          `JSONata ${code ?? 'error'}${position !== undefined ? ` at character ${position}` : ''}: ${message ?? String(error)}`,
        );
      }
    },
  };
}

/** Every `/.../` literal in a parsed expression, wherever it sits in the tree. */
function regexLiterals(
  node: unknown,
  found: Array<{ value: RegExp; position: number }> = [],
): Array<{ value: RegExp; position: number }> {
  if (node === null || typeof node !== 'object') return found;
  if (node instanceof RegExp) return found;
  const candidate = node as { type?: unknown; value?: unknown; position?: number };
  if (candidate.type === 'regex' && candidate.value instanceof RegExp)
    found.push({ value: candidate.value, position: candidate.position ?? 0 });
  for (const child of Object.values(node)) regexLiterals(child, found);
  return found;
}
