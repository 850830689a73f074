import { compileExpression, type CompiledExpression } from './expression.js';

/**
 * Text with `{{ expression }}` placeholders, each a JSONata expression evaluated against the run
 * (`$customer.first_name`, `$record.email`, `total_price` from the payload...). Missing values render as ''.
 */
export interface CompiledTemplate {
  source: string;
  /** `escape` is applied to each placeholder's value (e.g. `encodeURIComponent` in URLs), never to the literal text. */
  render: (input: unknown, bindings: Record<string, unknown>, escape?: (value: string) => string) => Promise<string>;
}

const PLACEHOLDER = /\{\{([\s\S]*?)\}\}/g;

export function compileTemplate(source: string): CompiledTemplate {
  const parts: Array<string | CompiledExpression> = [];
  let last = 0;
  for (const match of source.matchAll(PLACEHOLDER)) {
    parts.push(source.slice(last, match.index));
    parts.push(compileExpression(match[1]!.trim()));
    last = match.index + match[0].length;
  }
  parts.push(source.slice(last));
  return {
    source,
    render: async (input, bindings, escape = (value) => value) => {
      const rendered = await Promise.all(
        parts.map(async (part) =>
          typeof part === 'string' ? part : escape(formatValue(await part.evaluate(input, bindings))),
        ),
      );
      return rendered.join('');
    },
  };
}

function formatValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
