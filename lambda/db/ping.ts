/**
 * The cheapest statement that proves a database answers, for checks before any work.
 */
import type { Pool } from 'pg';

/** Runs SELECT 1; rejects with the pool's error when the server cannot be reached. */
export async function ping(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}
