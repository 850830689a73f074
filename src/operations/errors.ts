/**
 * Domain errors of the operations layer. An operation says *what* went wrong; each entrance (API, dashboard, CLI) maps
 * the kind to its own answer (404/409/403/400, a message page, an exit code). None of them carries an HTTP status.
 */
export type OperationErrorKind = 'not_found' | 'conflict' | 'forbidden' | 'invalid';

export class OperationError extends Error {
  constructor(
    readonly kind: OperationErrorKind,
    message: string,
    /** A stable machine-readable code for API answers (e.g. `no_address`); defaults to the kind. */
    readonly code: string = kind,
  ) {
    super(message);
    this.name = 'OperationError';
  }
}

export class NotFoundError extends OperationError {
  constructor(message: string, code?: string) {
    super('not_found', message, code);
  }
}

export class ConflictError extends OperationError {
  constructor(message: string, code?: string) {
    super('conflict', message, code);
  }
}

export class ForbiddenError extends OperationError {
  constructor(message: string, code?: string) {
    super('forbidden', message, code);
  }
}

export class InvalidInputError extends OperationError {
  constructor(message: string, code = 'bad_request') {
    super('invalid', message, code);
  }
}

/** HTTP status of each kind, for the API and the dashboard. */
export const HTTP_STATUS_OF: Readonly<Record<OperationErrorKind, number>> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
};
