import { describe, expect, it } from 'vitest';
import { compileExpression, ExpressionSyntaxError } from '../src/workflows/expression.js';

describe('regular expressions in JSONata run in linear time (RE2), so they cannot escape the time limit', () => {
  it('a catastrophic-backtracking pattern on a hostile field answers at once instead of blocking the process', async () => {
    // With the JavaScript engine, 27 "a"s blocked the event loop 12 s against a 1 s limit; 60 would take centuries,
    // so this test could not finish before the fix.
    const expression = compileExpression('$contains(name, /^(a+)+$/)');
    const started = performance.now();
    expect(await expression.evaluate({ name: `${'a'.repeat(60)}!` })).toBe(false);
    expect(await expression.evaluate({ name: 'a'.repeat(60) })).toBe(true);
    console.log(`catastrophic pattern on 61 characters: ${(performance.now() - started).toFixed(1)} ms`);
  });

  it('keeps JSONata regex semantics: $match groups and positions, $replace with flags, $split, $contains', async () => {
    expect([...((await compileExpression('$match("ab 12- 34-x", /(\\d+)-(x)?/)').evaluate({})) as unknown[])]).toEqual([
      { match: '12-', index: 3, groups: ['12', undefined] },
      { match: '34-x', index: 7, groups: ['34', 'x'] },
    ]);
    expect(await compileExpression('$replace("Hello World", /o/i, "0")').evaluate({})).toBe('Hell0 W0rld');
    expect(await compileExpression('$replace("HELLO", /l/i, "_")').evaluate({})).toBe('HE__O');
    expect([...((await compileExpression('$split("a1b22c", /\\d+/)').evaluate({})) as unknown[])]).toEqual([
      'a',
      'b',
      'c',
    ]);
    expect(await compileExpression('$contains(email, /@example\\.com$/)').evaluate({ email: 'ana@example.com' })).toBe(
      true,
    );
    expect(await compileExpression('$match("é1", /\\d/)').evaluate({})).toEqual({ match: '1', index: 1, groups: [] });
  });

  it('refuses at load time what a linear-time engine cannot run (backreferences, lookahead), with the position', () => {
    expect(() => compileExpression('$contains(x, /(a)\\1/)')).toThrow(ExpressionSyntaxError);
    expect(() => compileExpression('$contains(x, /a(?=b)/)')).toThrow(
      /regular expression at character \d+: .*linear time/,
    );
  });
});
