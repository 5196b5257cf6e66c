// tasks/data: the zero-shot tasks' files (as laid out in shared/data, each folder's SOURCE.md) turned into
// lm-evaluation-harness requests. Isomorphic: it takes the file contents as strings. Prompts follow the
// harness task configs (lm_eval/tasks/<task>/ yaml and utils.py):
//   lambada_openai  context = text minus its last word, continuation = " " + last word
//   piqa            "Question: " + goal + "\nAnswer:"              | " " + sol1, " " + sol2
//   arc_easy        "Question: " + question + "\nAnswer:"          | " " + choice (4)
//   boolq           passage + "\nQuestion: " + question + "?\nAnswer:" | " no", " yes"
//   winogrande      sentence up to the blank with option i          | " " + rest of the sentence (partial scoring)
//   hellaswag       activity_label + ": " + ctx (file line 1)       | " " + ending (4)
//   wikitext        one document-level page, detokenized, scored by rolling windows
import { fail } from '../util/errors.js';

export type TaskName = 'lambada_openai' | 'piqa' | 'arc_easy' | 'boolq' | 'winogrande' | 'hellaswag' | 'wikitext';

export const TASK_NAMES: readonly TaskName[] = ['lambada_openai', 'piqa', 'arc_easy', 'boolq', 'winogrande', 'hellaswag', 'wikitext'];

/** the files of a task folder that are read, by task */
export const TASK_FILES: Record<TaskName, string[]> = {
  lambada_openai: ['lambada_openai.jsonl'],
  piqa: ['valid.jsonl', 'valid-labels.lst'],
  arc_easy: ['arc_easy.jsonl'],
  boolq: ['boolq.jsonl'],
  winogrande: ['winogrande.jsonl'],
  hellaswag: ['hellaswag_val_full.txt'],
  wikitext: ['wiki.test.raw'],
};

/** the folder that holds each task's files under run's --task-data (docs/cli.md#zero-shot-task-data) */
export const TASK_DIRS: Record<TaskName, string> = {
  lambada_openai: 'lambada-openai', piqa: 'piqa', arc_easy: 'arc-easy', boolq: 'boolq',
  winogrande: 'winogrande', hellaswag: 'hellaswag', wikitext: 'wikitext-2',
};

/**
 * One scored item: loglikelihood requests (context, continuation), one per choice. `choices` are the
 * choice strings whose length (in code points, without the leading space) acc_norm divides by, as the
 * harness's `len(choice)` does; `gold` indexes them. LAMBADA has one request and gold 0.
 */
export interface ChoiceDoc { requests: [string, string][]; choices: string[]; gold: number }
/** One wikitext page: `text` is what is scored (detokenized), `page` the original (words and bytes count it). */
export interface PageDoc { page: string; text: string }

const REFETCH = 'the file is truncated or corrupt; fetch it again as its SOURCE.md describes';

// Python's str.isspace() set, so that strip()/rstrip()/re's \s mean what they mean in the harness
// (JS \s differs: it has U+FEFF and lacks U+001C..U+001F and U+0085)
const WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WS_RUN = new RegExp(`[${WS}]+`, 'g');
const isPySpace = (c: number) => (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c === 0x85 || c === 0xa0 || c === 0x1680 ||
  (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;

// strip and rstrip by scanning (a regex /[ws]+$/ backtracks quadratically on long whitespace runs that do not end the text)
export function pyRstrip(s: string): string {
  let e = s.length;
  while (e > 0 && isPySpace(s.charCodeAt(e - 1))) e--;
  return s.slice(0, e);
}
export function pyStrip(s: string): string {
  let b = 0;
  while (b < s.length && isPySpace(s.charCodeAt(b))) b++;
  return pyRstrip(s.slice(b));
}

/**
 * re.sub(OPEN \s*([^CLOSE]*?)\s* CLOSE, OPEN \1 CLOSE) by scanning: each OPEN with a CLOSE after it, up to that
 * first CLOSE, loses the whitespace just inside. The same result as the regex (the harness's), in linear time:
 * the regex's three competing quantifiers backtrack cubically on a bracket followed by a long whitespace run.
 */
function stripInside(s: string, open: string, close: string): string {
  let out = '', from = 0;
  for (;;) {
    const p = s.indexOf(open, from);
    const q = p < 0 ? -1 : s.indexOf(close, p + 1);
    if (q < 0) return out + s.slice(from);
    out += s.slice(from, p + 1) + pyStrip(s.slice(p + 1, q)) + close;
    from = q + 1;
  }
}
/** len(re.split(r"\s+", s)) */
export const pyWordCount = (s: string): number => s.split(WS_RUN).length;

/** JSON Lines: one object per non-blank line, each checked by `check` (which returns a problem or null) */
function jsonl<T>(name: string, text: string, check: (o: any) => string | null): T[] {
  const out: T[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let o: unknown;
    try { o = JSON.parse(line); } catch (e) {
      fail(`${name} line ${i + 1}: not valid JSON (${(e as Error).message})`, REFETCH);
    }
    const problem = o !== null && typeof o === 'object' ? check(o) : 'not a JSON object';
    if (problem) fail(`${name} line ${i + 1}: ${problem}`, REFETCH);
    out.push(o as T);
  });
  if (out.length === 0) fail(`${name} holds no items`, REFETCH);
  return out;
}

const isStr = (x: unknown): x is string => typeof x === 'string';
// a choice is never empty: acc_norm divides its log-likelihood by len(choice) (the harness raises ZeroDivisionError)
const isChoice = (x: unknown): x is string => typeof x === 'string' && x.length > 0;
const strings = (x: unknown, n?: number) => Array.isArray(x) && x.every(isChoice) && (n === undefined ? x.length > 0 : x.length === n);
const goldOf = (o: any, n: number) => Number.isInteger(o.gold) && o.gold >= 0 && o.gold < n;
const lines = (text: string) => text.replace(/\r\n/g, '\n').split('\n');

function lambada(f: Record<string, string>): ChoiceDoc[] {
  const rows = jsonl<{ context: string; continuation: string }>('lambada_openai.jsonl', f['lambada_openai.jsonl'],
    (o) => isStr(o.context) && isChoice(o.continuation) ? null : 'expected {"context": string, "continuation": non-empty string}');
  return rows.map((o) => ({ requests: [[o.context, ' ' + o.continuation]], choices: [o.continuation], gold: 0 }));
}

function piqa(f: Record<string, string>): ChoiceDoc[] {
  const rows = jsonl<{ goal: string; sol1: string; sol2: string }>('valid.jsonl', f['valid.jsonl'],
    (o) => isStr(o.goal) && isChoice(o.sol1) && isChoice(o.sol2) ? null
      : 'expected {"goal": string, "sol1": non-empty string, "sol2": non-empty string}');
  const labels = lines(f['valid-labels.lst']);
  if (labels[labels.length - 1] === '') labels.pop();
  if (labels.length !== rows.length) {
    fail(`valid-labels.lst holds ${labels.length} labels but valid.jsonl holds ${rows.length} items`, REFETCH);
  }
  return rows.map((o, i) => {
    const label = labels[i].trim();
    if (label !== '0' && label !== '1') fail(`valid-labels.lst line ${i + 1}: expected 0 or 1, got ${JSON.stringify(labels[i])}`, REFETCH);
    const ctx = `Question: ${o.goal}\nAnswer:`;
    return { requests: [[ctx, ' ' + o.sol1], [ctx, ' ' + o.sol2]], choices: [o.sol1, o.sol2], gold: Number(label) };
  });
}

function arcEasy(f: Record<string, string>): ChoiceDoc[] {
  const rows = jsonl<{ query: string; choices: string[]; gold: number }>('arc_easy.jsonl', f['arc_easy.jsonl'],
    (o) => isStr(o.query) && strings(o.choices) && goldOf(o, o.choices.length) ? null
      : 'expected {"query": string, "choices": [non-empty string, ...], "gold": index of a choice}');
  return rows.map((o) => {
    const ctx = o.query + '\nAnswer:'; // query is already "Question: " + question
    return { requests: o.choices.map((c): [string, string] => [ctx, ' ' + c]), choices: o.choices, gold: o.gold };
  });
}

function boolq(f: Record<string, string>): ChoiceDoc[] {
  const problem = 'expected {"query": "Passage: ... \\nQuestion: ...", "choices": ["no", "yes"], "gold": 0 or 1}';
  const rows = jsonl<{ query: string; choices: string[]; gold: number }>('boolq.jsonl', f['boolq.jsonl'],
    (o) => isStr(o.query) && o.query.startsWith('Passage: ') && o.query.includes('\nQuestion: ') &&
      strings(o.choices, 2) && goldOf(o, 2) ? null : problem);
  // the harness prompt has no "Passage: " prefix: passage + "\nQuestion: " + question + "?\nAnswer:"
  return rows.map((o) => {
    const ctx = o.query.slice('Passage: '.length) + '\nAnswer:';
    return { requests: o.choices.map((c): [string, string] => [ctx, ' ' + c]), choices: o.choices, gold: o.gold };
  });
}

function winogrande(f: Record<string, string>): ChoiceDoc[] {
  const rows = jsonl<{ context_options: string[]; continuation: string; gold: number }>('winogrande.jsonl', f['winogrande.jsonl'],
    (o) => strings(o.context_options, 2) && isStr(o.continuation) && goldOf(o, 2) ? null
      : 'expected {"context_options": [non-empty string, non-empty string], "continuation": string, "gold": 0 or 1}');
  // partial scoring: the continuation is the same for both options; the "choices" are the contexts
  return rows.map((o) => ({
    requests: o.context_options.map((c): [string, string] => [c, ' ' + o.continuation]), choices: o.context_options, gold: o.gold,
  }));
}

function hellaswag(f: Record<string, string>): ChoiceDoc[] {
  const name = 'hellaswag_val_full.txt';
  const ls = lines(f[name]);
  if (ls[ls.length - 1] === '') ls.pop();
  if (ls.length === 0) fail(`${name} holds no items`, REFETCH);
  const docs: ChoiceDoc[] = [];
  for (let i = 0; i < ls.length; i += 6) {
    if (i + 6 > ls.length) {
      fail(`${name} line ${i + 1}: item ${i / 6 + 1} is incomplete (${ls.length - i} of its 6 lines: context, gold, 4 endings)`, REFETCH);
    }
    const gold = ls[i + 1].trim();
    if (!/^[0-3]$/.test(gold)) fail(`${name} line ${i + 2}: expected the gold ending index 0..3, got ${JSON.stringify(ls[i + 1])}`, REFETCH);
    const endings = ls.slice(i + 2, i + 6);
    const empty = endings.findIndex((e) => e === '');
    if (empty >= 0) fail(`${name} line ${i + 3 + empty}: ending ${empty} is empty (acc_norm divides by its length)`, REFETCH);
    docs.push({ requests: endings.map((e): [string, string] => [ls[i], ' ' + e]), choices: endings, gold: Number(gold) });
  }
  return docs;
}

/**
 * EleutherAI/wikitext_document_level: a page starts at each top-level heading line " = Title = " (after
 * folding "= = =" and "= =", so section headings do not split). wiki.test.raw here has CRLF line endings
 * and no blank lines (its SOURCE.md); CRLF is normalised, the missing blank lines cannot be restored.
 */
export function wikitextPages(raw: string): string[] {
  const pages: string[] = [];
  let cur: string[] = [];
  for (const line of raw.replace(/\r\n/g, '\n').split('\n')) {
    const r = pyStrip(line.replace(/= = =/g, '===').replace(/= =/g, '=='));
    if (r.startsWith('= ') && pyRstrip(r).endsWith(' =')) {
      const page = cur.join('\n');
      if (pyStrip(page)) pages.push(page);
      cur = [];
    }
    cur.push(line);
  }
  pages.push(cur.join('\n'));
  return pages;
}

/** lm-eval's wikitext_detokenizer (tasks/wikitext/preprocess_wikitext.py), step for step */
export function wikitextDetokenize(s: string): string {
  s = s.replaceAll("s '", "s'");
  s = s.replace(/\/' [0-9]\//g, "/'[0-9]/"); // sic: the harness's pattern matches a literal "/' 5/"
  s = s.replaceAll(' @-@ ', '-').replaceAll(' @,@ ', ',').replaceAll(' @.@ ', '.');
  s = s.replaceAll(' : ', ': ').replaceAll(' ; ', '; ').replaceAll(' . ', '. ').replaceAll(' ! ', '! ')
    .replaceAll(' ? ', '? ').replaceAll(' , ', ', ');
  s = stripInside(s, '(', ')'); // re.sub(r"\(\s*([^\)]*?)\s*\)", r"(\1)", string), and so on
  s = stripInside(s, '[', ']');
  s = stripInside(s, '{', '}');
  s = stripInside(s, '"', '"');
  s = stripInside(s, "'", "'");
  s = s.replaceAll('= = = =', '====').replaceAll('= = =', '===').replaceAll('= =', '==');
  s = s.replaceAll(' \u00b0 ', '\u00b0');
  s = s.replaceAll(' \n', '\n').replaceAll('\n ', '\n').replaceAll(' N ', ' 1 ').replaceAll(" 's", "'s");
  return s;
}

function wikitext(f: Record<string, string>): PageDoc[] {
  const raw = f['wiki.test.raw'];
  if (pyStrip(raw) === '') fail('wiki.test.raw is empty', REFETCH);
  return wikitextPages(raw).map((page) => ({ page, text: wikitextDetokenize(page) }));
}

const PARSERS = { lambada_openai: lambada, piqa, arc_easy: arcEasy, boolq, winogrande, hellaswag, wikitext };

/** Parse a task's files (TASK_FILES[task], by file name) into its items, in file order. */
export function parseTask(task: 'wikitext', files: Record<string, string>): PageDoc[];
export function parseTask(task: TaskName, files: Record<string, string>): ChoiceDoc[] | PageDoc[];
export function parseTask(task: TaskName, files: Record<string, string>): ChoiceDoc[] | PageDoc[] {
  if (!(task in PARSERS)) fail(`unknown task '${task}'`, `pick one of ${TASK_NAMES.join(', ')}`);
  for (const name of TASK_FILES[task]) {
    if (typeof files[name] !== 'string') {
      fail(`task ${task} needs the file ${name}, which was not given`, `pass the task folder's files: ${TASK_FILES[task].join(', ')}`);
    }
  }
  return PARSERS[task](files);
}
