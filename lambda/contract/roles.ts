/**
 * The database role the SQS function logs in as. Migration 3 creates it with only what the
 * write path needs; the stack grants the function `rds-db:connect` as this user.
 */
export const WRITER_ROLE = 'login_queue_writer';

/**
 * The database role the operations function logs in as (lambda/functions/operations.ts). Migration 5
 * creates it: a member of login_queue_recovery (reads the sealed PII, writes the audit trail)
 * that may also rewrite the token columns, as rekey does; the stack grants the function
 * `rds-db:connect` as this user.
 */
export const OPERATOR_ROLE = 'login_queue_operator';
