/**
 * Preloaded into a command's process (`node --import tsx --import <this file>`): its clock runs
 * CLOCK_OFFSET_MS behind (negative) or ahead of the machine's, as an operator's skewed clock
 * or a request signed that long ago would.
 */
const offset = Number(process.env.CLOCK_OFFSET_MS ?? 0);
const RealDate = Date;

class OffsetDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + offset);
    else super(...(args as [string | number | Date]));
  }

  static override now(): number {
    return RealDate.now() + offset;
  }
}

globalThis.Date = OffsetDate as DateConstructor;
