// layers: which folders of src/ each folder may import (src/node/, the top floor, may import all of
// them). Read by .dependency-cruiser.cjs (`npm run lint`) and by test/layout.test.ts, which holds the
// Layout section of docs/architecture.md against it.
module.exports = {
  util: [],
  gpu: ['util', 'gen'],
  model: ['util', 'gpu'],
  tokenizers: ['util', 'gen'],
  data: ['util', 'tokenizers'],
  formats: ['util', 'model'],
  train: ['util', 'gpu', 'model', 'data'],
  tasks: ['util', 'gpu', 'model'],
  method: ['util', 'gpu', 'model', 'train', 'formats'],
  worker: ['util', 'gpu', 'model', 'tokenizers', 'data', 'formats', 'train', 'tasks', 'method'],
};
