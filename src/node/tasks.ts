// node/tasks: reads a task folder (TASK_FILES of one task; under run's --task-data it is named TASK_DIRS[task]) into the files record
// that evaluateTask takes, and checks it: a missing file or a malformed line is an InherituneError that
// names the file (and the line). Node only.
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fail, InherituneError } from '../util/errors.js';
import { readRegular } from './bytes.js';
import { parseTask, TASK_DIRS, TASK_FILES, TASK_NAMES, type TaskName } from '../tasks/data.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** TASK_FILES[task] of `dir` as { name: text }, parsed once so that bad data fails here, before any GPU work */
export async function readTaskFiles(task: TaskName, dir: string): Promise<Record<string, string>> {
  if (!TASK_NAMES.includes(task)) fail(`unknown task '${task}'`, `pick one of ${TASK_NAMES.join(', ')}`);
  const files: Record<string, string> = {};
  for (const name of TASK_FILES[task]) {
    const path = join(dir, name);
    try {
      files[name] = UTF8.decode(readRegular(path, `${task} task file`)); // a FIFO or a device is refused, not read
    } catch (e) {
      if (e instanceof InherituneError && existsSync(path)) throw e;
      if (e instanceof TypeError) { // TextDecoder's fatal mode: not UTF-8
        fail(`${path} is not UTF-8 text`, `fetch ${TASK_DIRS[task]}/${name} again as its SOURCE.md describes (the file may be corrupt)`);
      }
      const code = existsSync(path) ? (e as NodeJS.ErrnoException).code : 'ENOENT';
      fail(code === 'ENOENT' ? `${path} does not exist: the ${task} task reads ${TASK_FILES[task].join(' and ')} from its folder`
        : `cannot read ${path}: ${(e as Error).message}`,
      `pass the folder that holds ${TASK_FILES[task].join(', ')}: eval --task-data takes that folder, run --task-data the one above it (holding it as ${TASK_DIRS[task]}/)`);
    }
  }
  try {
    parseTask(task, files);
  } catch (e) {
    // the parser's messages start with the file name: make it the path
    if (e instanceof Error && e.name === 'InherituneError') e.message = join(dir, '.') + sep + e.message;
    throw e;
  }
  return files;
}
