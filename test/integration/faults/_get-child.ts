/**
 * A child process running one `get` (argv[2]: a JSON GetRequest without functions). It prints one JSON line
 * per finished file (`{"done": path}`) and per progress event (`{"written": bytes}`) so the parent can kill
 * it at a chosen point, then `{"result": …}` or `{"error": code}`.
 */

import { StargzError } from '../../../src/errors.js';
import { type GetRequest, getImage } from './_get.js';

const request = JSON.parse(process.argv[2] ?? '{}') as GetRequest;
try {
  const result = await getImage({
    ...request,
    onEvent: (event) => {
      if (event.type === 'file-done') process.stdout.write(`${JSON.stringify({ done: event.path })}\n`);
      if (event.type === 'progress') {
        process.stdout.write(`${JSON.stringify({ written: event.bytesWritten })}\n`);
      }
    },
  });
  process.stdout.write(`${JSON.stringify({ result })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: StargzError.is(error) ? error.code : String(error) })}\n`);
  process.exitCode = 1;
}
