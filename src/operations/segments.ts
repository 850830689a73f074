import { listSegmentMembers, segmentStats, type SegmentMember, type SegmentStats } from '../store/segments.js';
import type { CompiledSegment } from '../workflows/segments.js';
import { nowOf, type OperationContext } from './context.js';
import { InvalidInputError, NotFoundError } from './errors.js';

export type { SegmentMember, SegmentStats } from '../store/segments.js';

/** Every declared segment with its size and its entries and exits of the last 30 days. */
export async function segmentsOverview(
  ctx: OperationContext,
): Promise<{ segments: CompiledSegment[]; stats: Map<string, SegmentStats> }> {
  const segments = ctx.config.segments;
  return {
    segments,
    stats: await segmentStats(
      ctx.pool,
      segments.map((segment) => segment.id),
      nowOf(ctx),
    ),
  };
}

/** The declared segment `id`; refuses an undeclared one. */
export function segmentOf(ctx: OperationContext, id: string): CompiledSegment {
  const segment = ctx.config.segments.find((candidate) => candidate.id === id);
  if (!segment) throw new NotFoundError(`no segment "${id}" is declared`);
  return segment;
}

/** One page of a segment's members by customer id, after customer `after` (keyset), at most `limit` (1 to 1,000). */
export async function segmentMembers(
  ctx: OperationContext,
  input: { segmentId: string; after: number; limit: number },
): Promise<{ segment: CompiledSegment; members: SegmentMember[] }> {
  const segment = segmentOf(ctx, input.segmentId);
  if (!Number.isSafeInteger(input.after) || input.after < 0)
    throw new InvalidInputError('after must be a non-negative integer');
  if (!Number.isSafeInteger(input.limit) || input.limit < 0 || input.limit > 1000)
    throw new InvalidInputError('limit must be an integer from 0 to 1000');
  return { segment, members: await listSegmentMembers(ctx.pool, segment.id, input.after, input.limit) };
}
