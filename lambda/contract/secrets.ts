/**
 * The version id every first value of a key secret is written under, shared by the initialiser
 * (lambda/aws/secret-init.ts) and the key policy that lets it encrypt that version only
 * (infra/key-secrets.ts). No imports.
 */

/**
 * The version id of every first value. Two initialisers (or an SDK retry of one) write the
 * same version, so at most one first value ever exists; and the key policy lets the
 * initialiser encrypt this version only, so once it exists the initialiser can write nothing
 * more.
 */
export const FIRST_VERSION = 'login-queue-first-value-0000000000000001';
