import { CustomerChangeError } from '../store/customers.js';
import { ConflictError, NotFoundError } from './errors.js';

/** The store's refusals (no such merge, already undone…) as domain errors. */
export async function asOperationError<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof CustomerChangeError)
      throw error.kind === 'not_found' ? new NotFoundError(error.message) : new ConflictError(error.message);
    throw error;
  }
}
