/**
 * A raw COPY of already masked rows, the bound the handler is measured against: the rows the
 * handler would write for the same bodies, into the same table.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { parseKeyRing } from '../../lambda/core/key-ring';
import { parseLoginEvent } from '../../lambda/core/login-event';
import { mask } from '../../lambda/core/masking';
import { generateBodies } from '../../lambda/local/generate';

/** Batches per measurement: at least 5, and about 40,000 records. */
export const repsFor = (size: number) => Math.max(5, Math.ceil(40_000 / size));

/** COPY text-format lines of the rows the handler would write for these bodies. */
function copyLines(bodies: string[], secret: string, rep: number): string {
  const key = parseKeyRing(secret).current;
  const date = new Date().toISOString().slice(0, 10);
  const out: string[] = [];
  bodies.forEach((body, i) => {
    const parsed = parseLoginEvent(body);
    if (!parsed.ok) return;
    const e = parsed.event;
    out.push(
      [
        `copy-${rep}-${i}`,
        e.userId,
        e.deviceType,
        mask(key, 'ip', e.ip),
        mask(key, 'device_id', e.deviceId),
        e.locale ?? '\\N',
        e.appVersion,
        e.appVersionRaw,
        date,
        key.id,
      ].join('\t'),
    );
  });
  return `${out.join('\n')}\n`;
}

/** Records/s of `repsFor(size)` COPYs of `size` masked rows each, dated today, after an untimed one. */
export async function copyRate(
  pool: pg.Pool,
  size: number,
  secret: string,
  reps = repsFor(size),
): Promise<number> {
  const bodies = generateBodies(size, { seed: size, invalidRate: 0 });
  // One untimed COPY first, as the handler gets one untimed batch (handler-child.ts).
  const payloads = Array.from({ length: reps + 1 }, (_, rep) => copyLines(bodies, secret, rep));
  const client = await pool.connect();
  try {
    let totalMs = 0;
    for (const [rep, payload] of payloads.entries()) {
      const started = performance.now();
      await pipeline(
        Readable.from([payload]),
        client.query(
          copyFrom(
            'COPY user_logins (message_id, user_id, device_type, masked_ip, masked_device_id, locale, app_version, app_version_raw, create_date, key_id) FROM STDIN',
          ),
        ),
      );
      if (rep > 0) totalMs += performance.now() - started;
    }
    return (size * reps) / (totalMs / 1000);
  } finally {
    client.release();
  }
}
