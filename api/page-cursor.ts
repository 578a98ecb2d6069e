// Opaque, tamper-evident page cursors over Temporal's visibility page tokens:
// `<token>.<mac>` in base64url, the MAC binding the token to the listing it
// came from, so a made-up, edited or transplanted cursor is a 400, never a
// call that Temporal fails slowly or answers with another listing's page.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../core/errors';

export class PageCursors {
  constructor(private readonly secret: string) {}

  /** The cursor a client gets for Temporal's `token` of the listing named by `listing` (e.g. its query). */
  seal(listing: string, token: Uint8Array): string {
    const body = Buffer.from(token).toString('base64url');
    return `${body}.${this.mac(listing, body)}`;
  }

  /** Temporal's page token inside `cursor`; INVALID_ARGUMENT naming `field` unless this API sealed it for `listing`. */
  open(listing: string, cursor: string, field: string): Buffer {
    const [body, mac, ...rest] = cursor.split('.');
    const expected = Buffer.from(this.mac(listing, body ?? ''));
    const given = Buffer.from(mac ?? '');
    if (rest.length > 0 || !body || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new DomainError('INVALID_ARGUMENT', `${field}: is not a cursor this API handed out for this listing`, { field });
    }
    return Buffer.from(body, 'base64url');
  }

  private mac(listing: string, body: string): string {
    return createHmac('sha256', this.secret).update(`page-cursor\n${listing}\n${body}`).digest('base64url').slice(0, 22);
  }
}
