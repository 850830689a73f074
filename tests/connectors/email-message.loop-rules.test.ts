import { describe, expect, it } from 'vitest';
import {
  automatedReason,
  newText,
  parseAddress,
  type HeaderLookup,
} from '../../src/connectors/shared/email-message.js';

const headers =
  (values: Record<string, string>): HeaderLookup =>
  (name) =>
    Object.entries(values).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
const ana = parseAddress('Ana <ana@example.com>');
const own = new Set(['sales@shop.example.org']);

describe('RFC 3834: which mail a machine sent', () => {
  it('answers a person: no header, or Auto-Submitted: no', () => {
    expect(automatedReason(headers({}), ana, own)).toBeUndefined();
    expect(automatedReason(headers({ 'Auto-Submitted': 'no' }), ana, own)).toBeUndefined();
    expect(automatedReason(headers({ Precedence: 'first-class' }), ana, own)).toBeUndefined();
  });

  it.each([
    [{ 'Auto-Submitted': 'auto-replied' }, ana, 'Auto-Submitted: auto-replied'],
    [{ 'Auto-Submitted': 'Auto-Generated' }, ana, 'Auto-Submitted: auto-generated'],
    [{ Precedence: 'bulk' }, ana, 'Precedence: bulk'],
    [{ Precedence: 'junk' }, ana, 'Precedence: junk'],
    [{ 'List-Id': '<news.example.com>' }, ana, 'a mailing list (List-Id)'],
    [{ 'X-Autoreply': 'yes' }, ana, 'an auto-reply (X-Autoreply)'],
    [
      { 'Content-Type': 'multipart/report; report-type=delivery-status' },
      ana,
      'a bounce (delivery status notification)',
    ],
    [{ 'Return-Path': '<>' }, ana, 'a bounce (delivery status notification)'],
    [{}, parseAddress('MAILER-DAEMON@mx.example.net'), 'from mailer-daemon@mx.example.net'],
    [{}, parseAddress('postmaster@example.com'), 'from postmaster@example.com'],
    [{}, parseAddress('Shop <sales@shop.example.org>'), 'from sales@shop.example.org'],
    [{}, null, 'no sender address'],
  ])('never answers %j from %j', (values, from, reason) => {
    expect(automatedReason(headers(values), from, own)).toBe(reason);
  });
});

describe('the new text of a reply', () => {
  it('drops the quoted history in the common styles', () => {
    expect(
      newText(
        'Yes, Tuesday works.\n\nOn Mon, Dec 1, 2026 at 9:01 AM Shop <sales@shop.example.org> wrote:\n> Does Tuesday work?',
      ).text,
    ).toBe('Yes, Tuesday works.');
    expect(
      newText('Yes.\r\n\r\nOn Mon, Dec 1, 2026 at 9:01 AM Shop\r\n<sales@shop.example.org> wrote:\r\n> Q').text,
    ).toBe('Yes.');
    expect(newText('Fine by me.\n\n-----Original Message-----\nFrom: Shop').text).toBe('Fine by me.');
    expect(newText('Thanks!\n\nFrom: Shop <sales@shop.example.org>\nSent: Monday\nTo: Ana').text).toBe('Thanks!');
    expect(newText('Plain text, no history.')).toEqual({ text: 'Plain text, no history.', truncated: false });
  });

  it('caps a long text', () => {
    const long = newText('x'.repeat(25_000));
    expect(long.text).toHaveLength(20_000);
    expect(long.truncated).toBe(true);
  });
});
