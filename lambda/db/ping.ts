/**
 * Reaching the database before changing anything: the cheapest statement that proves it
 * answers. A failure is an UnreachableError whose message names the address (never a password).
 */
import type { Pool } from 'pg';
import { UnreachableError } from '../core/errors';
import { reasonOf } from '../core/reason';

/** Runs SELECT 1; rejects with the pool's error when the server cannot be reached. */
export async function ping(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}

/** Runs SELECT 1 on the pool. Throws UnreachableError "PostgreSQL at <address>: <reason>". */
export async function checkDatabase(pool: Pool, address: string): Promise<void> {
  try {
    await ping(pool);
  } catch (error) {
    throw new UnreachableError(`PostgreSQL at ${address}: ${reasonOf(error)}`, { cause: error });
  }
}
