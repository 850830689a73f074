import { createHash } from 'node:crypto';
import type { ParsedEvent } from '../define-connector.js';

/** The WooCommerce webhook topics crmflow turns into events; the event type is the topic itself. */
export const TOPICS = {
  'order.created': { mapping: 'order', sample: 'order_created', summary: 'An order was placed.' },
  'order.updated': {
    mapping: 'order',
    sample: 'order_created',
    summary: 'An order changed (status, payment, refund...).',
  },
  'customer.created': { mapping: 'customer', sample: 'customer_created', summary: 'A customer account was created.' },
  'customer.updated': { mapping: 'customer', sample: 'customer_created', summary: 'A customer account changed.' },
} as const;

export type Topic = keyof typeof TOPICS;

export const isTopic = (value: string | undefined): value is Topic =>
  value !== undefined && Object.hasOwn(TOPICS, value);

/** A WooCommerce REST object (order or customer): the webhook body and a pulled item have the same shape. */
export type WooResource = Record<string, unknown>;

/** WooCommerce's `*_gmt` dates are UTC written without a zone (`2017-03-22T19:28:08`). */
export function gmtToIso(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const date = new Date(/(Z|[+-]\d\d:?\d\d)$/i.test(value) ? value : `${value}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The object's version: its last modification, or its creation for objects never modified (customers). */
export function versionOf(resource: WooResource): string | undefined {
  const version = resource.date_modified_gmt ?? resource.date_created_gmt;
  return typeof version === 'string' && version !== '' ? version : undefined;
}

/**
 * One event for one version of an order or customer. The same object in the same version is the same event, whether
 * a webhook (re)delivered it or a pull found it. Without an id or version, `fallbackId` (a delivery id) or else a hash
 * of the content names it.
 */
export function resourceEvent(type: Topic, resource: WooResource, fallbackId?: string): ParsedEvent {
  const version = versionOf(resource);
  const id = resource.id;
  const externalId =
    (typeof id === 'number' || typeof id === 'string') && version
      ? `${type}:${id}:${version}`
      : (fallbackId ?? createHash('sha256').update(JSON.stringify(resource)).digest('hex'));
  return { type, externalId, occurredAt: gmtToIso(version) ?? new Date().toISOString(), payload: resource };
}
