import jsonata from 'jsonata';
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
    expression = jsonata(source, { timeout: limits.timeout, stack: limits.stack } as Parameters<typeof jsonata>[1]);
  } catch (error) {
    const { message, position } = error as { message: string; position?: number };
    throw new ExpressionSyntaxError(`JSONata syntax error at character ${position ?? 0}: ${message}`, position ?? 0);
  }
  return {
    source,
    evaluate: async (input, bindings) => {
      try {
        return await expression.evaluate(input, bindings);
      } catch (error) {
        const { message, code, position } = error as { message?: string; code?: string; position?: number };
        throw new ExpressionError(`JSONata ${code ?? 'error'}${position !== undefined ? ` at character ${position}` : ''}: ${message ?? String(error)}`);
      }
    },
  };
}
