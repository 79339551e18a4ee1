import { StargzError } from '../../src/errors.js';

/**
 * The StargzError a promise rejects with. A promise that resolves, or rejects with anything else, fails the
 * test (the foreign error is rethrown as it is, so its stack shows).
 */
export async function failure(promise: Promise<unknown>): Promise<StargzError> {
  try {
    await promise;
  } catch (error) {
    if (StargzError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a StargzError, but the promise resolved');
}
