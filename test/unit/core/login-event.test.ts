import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseLoginEvent } from '../../../lambda/core/login-event';
import { loginBody } from '../../helpers/sqs';

const reasonOf = (body: string) => {
  const result = parseLoginEvent(body);
  return result.ok ? 'ok' : result.rejection.reason;
};

describe('parseLoginEvent', () => {
  it('parses a take-home body into a typed event', () => {
    // Arrange
    const body = loginBody({ locale: null, app_version: '0.96', extra: 'ignored' });
    // Act
    const result = parseLoginEvent(body);
    // Assert
    expect(result).toEqual({
      ok: true,
      event: {
        userId: '424cdd21-063a-43a7-b91b-7ca1a833afae',
        deviceType: 'android',
        ip: '199.172.111.135',
        deviceId: '593-47-5928',
        locale: null,
        appVersion: 96_000,
        appVersionRaw: '0.96',
      },
    });
  });

  it('treats a missing or blank locale as NULL', () => {
    const result = parseLoginEvent(loginBody({ locale: undefined }));
    expect(result.ok && result.event.locale).toBeNull();
    const blank = parseLoginEvent(loginBody({ locale: '  ' }));
    expect(blank.ok && blank.event.locale).toBeNull();
  });

  it('canonicalises the ip and trims strings', () => {
    const result = parseLoginEvent(loginBody({ ip: '::ffff:10.0.0.1', user_id: ' u1 ' }));
    expect(result.ok && [result.event.ip, result.event.userId]).toEqual(['10.0.0.1', 'u1']);
  });

  it.each([
    ['not json', 'body.not_json'],
    ['[1,2]', 'body.not_object'],
    ['null', 'body.not_object'],
    ['"text"', 'body.not_object'],
    ['{"foo": "oops_wrong_msg_type", "bar": "123"}', 'user_id.missing'],
    [loginBody({ user_id: null }), 'user_id.missing'],
    [loginBody({ user_id: 42 }), 'user_id.wrong_type'],
    [loginBody({ user_id: 'u'.repeat(129) }), 'user_id.too_long'],
    [loginBody({ device_type: 'd'.repeat(33) }), 'device_type.too_long'],
    [loginBody({ device_type: undefined }), 'device_type.missing'],
    [loginBody({ ip: '999.1.1.1' }), 'ip.invalid'],
    [loginBody({ ip: '' }), 'ip.missing'],
    [loginBody({ device_id: '   ' }), 'device_id.missing'],
    [loginBody({ device_id: 'a\u0000b' }), 'device_id.invalid'],
    [loginBody({ app_version: '2.3.0.1' }), 'app_version.invalid'],
    [loginBody({ app_version: 2.3 }), 'app_version.wrong_type'],
    [loginBody({ locale: 'l'.repeat(33) }), 'locale.too_long'],
    [loginBody({ locale: 7 }), 'locale.wrong_type'],
  ])('rejects %j with reason %s', (body, reason) => {
    expect(reasonOf(body)).toBe(reason);
  });

  it.each([
    ['device_id', '"dev-\\ud800"'],
    ['device_id', '"dev-\\udfff-x"'],
    ['user_id', '"\\udbff"'],
    ['locale', '"en\\ud83d"'],
  ])('rejects a lone surrogate in %s as invalid Unicode', (field, json) => {
    // Arrange: JSON escapes make a lone surrogate that U+FFFD would otherwise replace.
    const body = loginBody({ [field]: '@' }).replace('"@"', json);
    // Act
    const result = parseLoginEvent(body);
    // Assert
    expect(result).toEqual({
      ok: false,
      rejection: {
        reason: `${field}.invalid`,
        detail: `${field} is not valid Unicode (a lone surrogate)`,
      },
    });
  });

  it('keeps a surrogate pair (an emoji) in a device id', () => {
    const result = parseLoginEvent(loginBody({ device_id: 'dev-\u{1F600}' }));
    expect(result.ok).toBe(true);
  });

  it('counts code points like PostgreSQL varchar: 128 emoji fit in user_id', () => {
    expect(reasonOf(loginBody({ user_id: '😀'.repeat(128) }))).toBe('ok');
    expect(reasonOf(loginBody({ user_id: '😀'.repeat(129) }))).toBe('user_id.too_long');
  });

  it('never holds the rejected value in the detail', () => {
    const result = parseLoginEvent(loginBody({ ip: '10.0.0.999' }));
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain('10.0.0.999');
  });

  it('never throws, whatever the body', () => {
    const anyBody = fc.oneof(
      fc.string(),
      fc.json(),
      fc
        .dictionary(
          fc.constantFrom('user_id', 'ip', 'device_id', 'app_version', 'locale', 'device_type'),
          fc.jsonValue(),
        )
        .map((o) => JSON.stringify(o)),
    );
    fc.assert(
      fc.property(anyBody, (body) => {
        const result = parseLoginEvent(body);
        expect(typeof result.ok).toBe('boolean');
        if (!result.ok) expect(result.rejection.reason).toMatch(/^[a-z_]+\.[a-z_]+$/);
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts every well-formed event and keeps its meaning', () => {
    const event = fc.record({
      user_id: fc
        .string({ minLength: 1, maxLength: 40 })
        .filter((s) => s.trim().length > 0 && !s.includes('\u0000')),
      ip: fc.oneof(fc.ipV4(), fc.ipV6()),
      device_id: fc.stringMatching(/^\d{3}-\d{2}-\d{4}$/),
      app_version: fc.tuple(fc.nat(99), fc.nat(999), fc.nat(999)).map((t) => t.join('.')),
      device_type: fc.constantFrom('ios', 'android'),
      locale: fc.option(fc.constantFrom('RU', 'PH', 'ID'), { nil: null }),
    });
    fc.assert(
      fc.property(event, (input) => {
        const result = parseLoginEvent(JSON.stringify(input));
        expect(result.ok).toBe(true);
        if (result.ok) expect(result.event.userId).toBe(input.user_id.trim());
      }),
    );
  });
});
