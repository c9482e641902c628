/**
 * Passwords out of what the tools print: every line that may hold a URL (hints, export lines,
 * errors) goes through `redactPasswords`, which masks a URL's password with ****.
 */

// scheme://user:PASSWORD@host — up to the authority's last "@", as URL parsers read it.
const USERINFO_PASSWORD = /(\b[a-z][a-z\d+.-]*:\/\/[^\s/?#@:'"]*:)[^\s/?#'"]*@/gi;
// ?password=… and &sslpassword=…, which libpq and node-postgres read from a URL's query.
const PASSWORD_PARAMETER = /([?&](?:ssl)?password=)[^\s&#'"]*/gi;

/** `text` with the password of every URL in it replaced by ****; the rest unchanged (pure). */
export function redactPasswords(text: string): string {
  return text
    .replace(USERINFO_PASSWORD, (_, head: string) => `${head}****@`)
    .replace(PASSWORD_PARAMETER, (_, head: string) => `${head}****`);
}

/** True when `url` holds a password (printing it would show a secret). */
export function hasPassword(url: string): boolean {
  return redactPasswords(url) !== url;
}
