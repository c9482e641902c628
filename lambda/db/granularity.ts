/**
 * The sizes a new partition of user_logins can have. Its own module, free of `pg`, because the
 * configuration reads it and every function, SecretInit too, imports the configuration.
 */
export const Granularity = { Month: 'month', Day: 'day' } as const;
export type Granularity = (typeof Granularity)[keyof typeof Granularity];

export const isGranularity = (value: unknown): value is Granularity =>
  value === Granularity.Month || value === Granularity.Day;
