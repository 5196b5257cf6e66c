// errors: one error type whose message names the problem and then the fix (`---> HINT: ...`),
// the way llm.c's test_gpt2.c tells you to re-run train_gpt2.py.
export class InherituneError extends Error {
  constructor(problem: string, readonly hint?: string) {
    super(hint ? `${problem}\n---> HINT: ${hint}` : problem);
    this.name = 'InherituneError';
  }
}

export function fail(problem: string, hint?: string): never {
  throw new InherituneError(problem, hint);
}

export function assert(cond: unknown, problem: string, hint?: string): asserts cond {
  if (!cond) fail(problem, hint);
}
