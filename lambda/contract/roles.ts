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

/**
 * The database role analysts read as: every column of user_logins but the sealed PII, and the
 * user_logins_analytics view (migration 2). Migration 9 lets it log in, and on RDS signs it in
 * with IAM (rds_iam); the stack grants the analyst IAM role `rds-db:connect` as this user.
 */
export const ANALYST_ROLE = 'login_queue_analyst';
