import { generateKeyPairSync, sign } from 'node:crypto';
import { challengeSigningInput } from '../../core/agents';
import { issueCredential, parseAgentPublicKey, verifyAgentSignature, verifyCredential } from '../../core/credentials';

const secret = 'x'.repeat(32);
const claims = { sub: 'agent-1', swarm: 'default', gen: 1, iat: 1000, exp: 2000 };

describe('agent credentials', () => {
  it('a credential verifies with the secret that issued it and yields its claims', () => {
    expect(verifyCredential(secret, issueCredential(secret, claims), 1500)).toEqual(claims);
  });

  it('an expired credential is refused', () => {
    expect(() => verifyCredential(secret, issueCredential(secret, claims), 2000)).toThrow(/expired/);
  });

  it('a credential issued under another secret is refused', () => {
    expect(() => verifyCredential(secret, issueCredential('y'.repeat(32), claims), 1500)).toThrow(/signature/);
  });

  it('changing the claims breaks the MAC', () => {
    const [prefix, , mac] = issueCredential(secret, claims).split('.');
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'agent-2' })).toString('base64url');
    expect(() => verifyCredential(secret, `${prefix}.${forged}.${mac}`, 1500)).toThrow(/signature/);
  });

  it.each(['', 'abc', 'qpc1.a', 'jwt.a.b'])('a malformed token %p is refused', (token) => {
    expect(() => verifyCredential(secret, token, 1500)).toThrow(/malformed|signature/);
  });
});

describe('challenge signatures', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const message = challengeSigningInput('agent-1', 'bm9uY2U=');

  it('the agent key signature of the challenge verifies', () => {
    const signature = sign(null, Buffer.from(message), privateKey).toString('base64');
    expect(verifyAgentSignature(pem, message, signature)).toBe(true);
  });

  it('a signature bound to another agent id does not verify', () => {
    const other = challengeSigningInput('agent-2', 'bm9uY2U=');
    const signature = sign(null, Buffer.from(other), privateKey).toString('base64');
    expect(verifyAgentSignature(pem, message, signature)).toBe(false);
  });

  it('a signature of the wrong length is false, not an exception', () => {
    expect(verifyAgentSignature(pem, message, 'AAAA')).toBe(false);
  });

  it('only Ed25519 SPKI keys are accepted', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
    expect(() => parseAgentPublicKey(rsa.toString())).toThrow(/ed25519/);
    expect(() => parseAgentPublicKey('garbage')).toThrow(/not a valid/);
  });
});
