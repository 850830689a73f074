import type { NextFunction, Request, Response } from 'express';
import { HTTP_STATUS_OF, OperationError } from '../operations/errors.js';

/** The one JSON error shape: `{"error": {"code": "...", "message": "..."}}`. */
export function sendError(
  res: Response,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  res.status(status).set(headers).json({ error: { code, message } });
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Last middleware: maps body-parser and our errors to the JSON shape; never leaks a stack. */
export function errorHandler(logger: { error: (obj: object, msg: string) => void }) {
  return (error: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const err = error as { type?: string; status?: number; message?: string };
    if (error instanceof HttpError) return sendError(res, error.status, error.code, error.message);
    if (error instanceof OperationError) return sendError(res, HTTP_STATUS_OF[error.kind], error.code, error.message);
    if (err.type === 'entity.too.large') {
      const limit = (error as { limit?: number }).limit;
      return sendError(
        res,
        413,
        'payload_too_large',
        `request body is larger than the ${limit ? `${Math.round(limit / 1024)} kB ` : ''}limit`,
      );
    }
    if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported')
      return sendError(res, 415, 'unsupported_encoding', err.message ?? 'unsupported encoding');
    if (err.type === 'request.aborted') return sendError(res, 400, 'aborted', 'request aborted');
    if (typeof err.status === 'number' && err.status >= 400 && err.status < 500)
      return sendError(res, err.status, 'bad_request', err.message ?? 'bad request');
    logger.error({ err: error }, 'unhandled request error');
    sendError(res, 500, 'internal', 'internal error');
  };
}
