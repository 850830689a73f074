/**
 * Types and helpers shared by the OpenAPI description of each resource (`openapi/<resource>.ts`, beside its routes in
 * `api/<resource>.ts`): closed records, the error shape, the common parameters and responses.
 */

/** A JSON Schema (draft 2020-12) as plain data. */
export type JsonSchema = { [keyword: string]: unknown };

export interface Reference {
  $ref: string;
}

export interface MediaTypeObject {
  schema: JsonSchema;
  example?: unknown;
}

export interface HeaderObject {
  description: string;
  schema: JsonSchema;
}

export interface ResponseObject {
  description: string;
  headers?: Record<string, HeaderObject>;
  content?: Record<string, MediaTypeObject>;
}

export interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  description: string;
  schema: JsonSchema;
}

export interface RequestBodyObject {
  description: string;
  required?: boolean;
  content: Record<string, MediaTypeObject>;
}

/** Alternatives: any one requirement object suffices; `{}` means no credentials. */
export type SecurityRequirement = Record<string, string[]>;

export interface OperationObject {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security: SecurityRequirement[];
  parameters?: ParameterObject[];
  requestBody?: RequestBodyObject;
  /** By status code; every status a handler answers is listed explicitly (no `default`). */
  responses: Record<string, ResponseObject | Reference>;
}

export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

export interface PathItemObject {
  summary?: string;
  description?: string;
  get?: OperationObject;
  post?: OperationObject;
  put?: OperationObject;
  delete?: OperationObject;
}

export interface SecuritySchemeObject {
  type: 'http';
  scheme: 'bearer';
  description: string;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string; license: { name: string; identifier: string } };
  jsonSchemaDialect: string;
  tags: Array<{ name: string; description: string }>;
  paths: Record<string, PathItemObject>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, ResponseObject>;
    securitySchemes: Record<string, SecuritySchemeObject>;
  };
}

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
export const responseRef = (name: string): Reference => ({ $ref: `#/components/responses/${name}` });

export const string: JsonSchema = { type: 'string' };
export const nullableString: JsonSchema = { type: ['string', 'null'] };
export const integer: JsonSchema = { type: 'integer' };
export const nullableInteger: JsonSchema = { type: ['integer', 'null'] };
export const dateTime: JsonSchema = { type: 'string', format: 'date-time' };
export const nullableDateTime: JsonSchema = { type: ['string', 'null'], format: 'date-time' };
export const anyJson = (description: string): JsonSchema => ({ description });

/** A closed object: every property listed is present (nullable where the column is), nothing else. */
export function record(
  description: string,
  properties: Record<string, JsonSchema>,
  optional: string[] = [],
): JsonSchema {
  return {
    type: 'object',
    description,
    properties,
    required: Object.keys(properties).filter((name) => !optional.includes(name)),
    additionalProperties: false,
  };
}

export const json = (schema: JsonSchema, example?: unknown): Record<string, MediaTypeObject> => ({
  'application/json': example === undefined ? { schema } : { schema, example },
});

/** The one error shape, narrowed to the codes a response can carry. */
export const errorContent = (codes: string[]): Record<string, MediaTypeObject> =>
  json({ $ref: '#/components/schemas/Error', properties: { error: { properties: { code: { enum: codes } } } } });

export function errorResponse(
  description: string,
  codes: string[],
  headers?: Record<string, HeaderObject>,
): ResponseObject {
  return { description, ...(headers ? { headers } : {}), content: errorContent(codes) };
}

export const RETRY_AFTER: Record<string, HeaderObject> = {
  'Retry-After': { description: 'Seconds to wait before redelivering.', schema: integer },
};
export const API_TOKEN: SecurityRequirement[] = [{ apiToken: [] }];
export const PUBLIC: SecurityRequirement[] = [];

export const idParameter = (what: string): ParameterObject => ({
  name: 'id',
  in: 'path',
  required: true,
  description: `The ${what} id (a non-negative integer; anything else is answered 400).`,
  schema: { type: 'integer', minimum: 0 },
});

export function limitParameter(fallback: number, max: number): ParameterObject {
  return {
    name: 'limit',
    in: 'query',
    description: `How many to return: default ${fallback}, larger values are capped at ${max}.`,
    schema: { type: 'integer', minimum: 0, default: fallback },
  };
}

export const beforeParameter = (what: string): ParameterObject => ({
  name: 'before',
  in: 'query',
  description: `Keyset pagination: only ${what} with an id below this (pass the smallest id of the previous page).`,
  schema: { type: 'integer', minimum: 0 },
});

export const customerIdParameter = (what: string): ParameterObject => ({
  name: 'customer_id',
  in: 'query',
  description: `Only the ${what} of this customer (the surviving id after a merge).`,
  schema: { type: 'integer', minimum: 0 },
});

export const badRequest = errorResponse(
  'A malformed parameter (e.g. a non-integer id or limit) or an unreadable JSON request body.',
  ['bad_request'],
);
export const bodyTooLarge = errorResponse(
  'The request body of an authenticated call is larger than the 100 kB API limit.',
  ['payload_too_large'],
);
export const notFound = (what: string): ResponseObject => errorResponse(`No such ${what}.`, ['not_found']);

export function apiOperation(
  operation: Omit<OperationObject, 'security' | 'responses'> & {
    responses: Record<string, ResponseObject | Reference>;
  },
): OperationObject {
  return {
    ...operation,
    security: API_TOKEN,
    responses: { ...operation.responses, '401': responseRef('Unauthorized'), '500': responseRef('Internal') },
  };
}

/** `POST /api/merge-suggestions/{id}/accept` and `…/reject`: one shape, two decisions. */
