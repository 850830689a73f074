/**
 * The parts of the customer a trait or segment expression (evaluated with the customer as input and as `$customer`)
 * can read: keys `<field>` (e.g. `owner_agent_id`) and `traits.<name>`, or null when it may read any of it. Only plain
 * `$customer.<field>` and `$customer.traits.<name>` paths are understood; anything else that can reach the customer
 * (`$customer` on its own, a path over the input, `$`, `$$`, wildcards, a lambda parameter named `customer`) counts
 * as reading all of it, so the answer errs towards "reads it".
 */
export function customerReads(ast: unknown): string[] | null {
  const keys = new Set<string>();
  return visit(ast, keys) ? [...keys].sort() : null;
}

interface Node {
  type?: string;
  value?: unknown;
  steps?: Node[];
  [key: string]: unknown;
}

/** What a path step is on its own; anything else on it (a filter, a sort, a binding) is an expression to look into. */
const STEP_OWN_KEYS = new Set(['type', 'value', 'position']);

/** Adds what `node` reads to `keys`; false when it may read the whole customer. */
function visit(node: unknown, keys: Set<string>): boolean {
  if (Array.isArray(node)) return node.every((child) => visit(child, keys));
  if (node === null || typeof node !== 'object') return true;
  const { type, value, steps } = node as Node;
  if (type === 'path' && steps?.[0]?.type === 'variable' && steps[0].value === 'customer')
    return customerPath(node as Node & { steps: Node[] }, keys);
  if (type === 'name' || type === 'wildcard' || type === 'descendant' || type === 'parent') return false;
  if (type === 'variable' && (value === 'customer' || value === '' || value === '$')) return false;
  return Object.entries(node).every(([key, child]) => key === 'position' || visit(child, keys));
}

/** The parts of a step other than its name. */
const extras = (step: Node) => Object.entries(step).filter(([key]) => !STEP_OWN_KEYS.has(key));

/**
 * `$customer.<field>…` or `$customer.traits.<name>…`: the key, plus what the expressions on its steps read (relative
 * paths in them count as reading everything). Names after the key read inside the key's value.
 */
function customerPath(path: Node & { steps: Node[] }, keys: Set<string>): boolean {
  const [customer, first, second] = path.steps;
  if (extras(customer!).length > 0 || first?.type !== 'name') return false;
  const byTrait = first.value === 'traits' && extras(first).length === 0 && second?.type === 'name';
  keys.add(byTrait ? `traits.${String(second.value)}` : String(first.value));
  const rest = path.steps
    .slice(1)
    .map((step) => (step.type === 'name' ? extras(step).map(([, child]) => child) : step));
  const around = Object.entries(path).filter(([key]) => key !== 'steps' && !STEP_OWN_KEYS.has(key));
  return visit(rest, keys) && around.every(([, child]) => visit(child, keys));
}
