/**
 * Tests only: the message of the refusal `f` must throw — a ProtocolError INVALID_ARGUMENT,
 * what a node answers for a malformed peer message; anything else, or no throw, fails the test.
 */
import { expect } from 'vitest';
import { ProtocolError } from '../protocol/messages.ts';

export function refusalReason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code).toBe('INVALID_ARGUMENT');
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}
