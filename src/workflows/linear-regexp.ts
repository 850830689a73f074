import { RE2JS } from 're2js';

/**
 * The regular-expression engine JSONata evaluates `/.../` literals with (its `RegexEngine` option): RE2 semantics in
 * linear time, so a pattern like `/^(a+)+$/` on a long vendor field cannot block the event loop (the JSONata time
 * limit is a timer, which cannot fire while a backtracking match runs). RE2 has no backreferences or lookaround;
 * such patterns are refused when workflows.yaml is loaded. Implements the part of RegExp that JSONata uses:
 * `exec` from `lastIndex`.
 */
export class LinearRegExp {
  lastIndex = 0;
  readonly source: string;
  private readonly pattern: RE2JS;

  constructor(regex: RegExp) {
    this.source = regex.source;
    this.pattern = RE2JS.compile(
      regex.source,
      (regex.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0) |
        (regex.multiline ? RE2JS.MULTILINE : 0) |
        (regex.dotAll ? RE2JS.DOTALL : 0),
    );
  }

  exec(text: string): RegExpExecArray | null {
    const matcher = this.pattern.matcher(text);
    if (this.lastIndex > text.length || !matcher.find(this.lastIndex)) {
      this.lastIndex = 0;
      return null;
    }
    const groups: string[] = [];
    for (let i = 0; i <= matcher.groupCount(); i++) groups.push(matcher.group(i) ?? (undefined as unknown as string));
    this.lastIndex = matcher.end();
    return Object.assign(groups, { index: matcher.start(), input: text }) as RegExpExecArray;
  }
}

/** Why RE2 cannot run `regex` (a backreference, lookaround...), or undefined when it can. */
export function linearRegexProblem(regex: RegExp): string | undefined {
  try {
    new LinearRegExp(regex);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
