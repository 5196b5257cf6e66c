// builtin: what the demo page's one-click start reads (no files needed), as `inheritune-rt demo` starts:
// the reference the package ships in assets/reference (a 12-block byte-level Llama pre-trained on the
// Brown Corpus), found from dist/demo/ at ../../assets/reference/ in the package folder, and slices of
// the same Brown text that scripts/demo-text.mjs writes into dist/demo/: from the split the reference
// trained on (brown-train.txt) and from the 10% it never saw (brown-val.txt).
export const BUILTIN = {
  model: new URL('../../assets/reference/', import.meta.url).href,
  train: new URL('./brown-train.txt', import.meta.url).href,
  val: new URL('./brown-val.txt', import.meta.url).href,
};

async function fetchText(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) {
    throw new Error(`${url}: HTTP ${r.status}\n---> HINT: serve the whole inheritune-rt package folder (dist/ and assets/) and open dist/demo/index.html, ` +
      'or pick model files and a text instead');
  }
  return r.text();
}

/** the training and validation text of the built-in start */
export async function builtinText(): Promise<{ train: string; val: string }> {
  const [train, val] = await Promise.all([fetchText(BUILTIN.train), fetchText(BUILTIN.val)]);
  return { train, val };
}
