/**
 * The database role the SQS function logs in as. Migration 3 creates it with only what the
 * write path needs; the stack grants the function `rds-db:connect` as this user.
 */
export const WRITER_ROLE = 'login_queue_writer';
