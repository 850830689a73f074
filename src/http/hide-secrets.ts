import type { NextFunction, Request, Response } from 'express';
import type { SecretRedactor } from '../config/secret-redactor.js';

/**
 * Last line of defence for answers built from configuration or stored data (API JSON, dashboard pages): any configured
 * secret value in a text body is replaced by `[redacted]` before it is sent. Run records and logs are redacted where
 * they are written; this catches what is rendered from elsewhere (a trigger's configuration, a vendor's echo).
 */
export function hideSecrets(redactor: SecretRedactor) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const send = res.send.bind(res);
    res.send = ((body?: unknown) => send(typeof body === 'string' ? redactor.text(body) : body)) as Response['send'];
    next();
  };
}
