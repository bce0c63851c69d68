import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { saslprepMapped, scramVerifier } from '../../src/core/instance/scram.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

const VERIFIER = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*):([A-Za-z0-9+/]+=*)$/;

function parts(v: string) {
  const m = VERIFIER.exec(v);
  assert.ok(m, `not a SCRAM-SHA-256 verifier: ${v}`);
  return {
    iterations: Number(m[1]),
    salt: Buffer.from(m[2]!, 'base64'),
    storedKey: Buffer.from(m[3]!, 'base64'),
    serverKey: Buffer.from(m[4]!, 'base64'),
  };
}

describe('SCRAM-SHA-256 verifiers for CREATE ROLE ... PASSWORD', () => {
  // RFC 7677, section 3: user "user", password "pencil".
  const rfc = {
    salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
    authMessage:
      'n=user,r=rOprNGfwEbeRWgbNEkqO,' +
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,' +
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    clientProof: Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64'),
    serverSignature: '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
  };

  it('a server holding the verifier accepts the client proof of the RFC 7677 exchange and answers its server signature', () => {
    const v = parts(scramVerifier('pencil', 4096, rfc.salt));
    // What PostgreSQL does with the stored verifier: recover ClientKey from the proof, hash it, compare.
    const clientSignature = createHmac('sha256', v.storedKey).update(rfc.authMessage).digest();
    const clientKey = Buffer.from(rfc.clientProof.map((b, i) => b ^ clientSignature[i]!));
    assert.deepEqual(createHash('sha256').update(clientKey).digest(), v.storedKey);
    const serverSignature = createHmac('sha256', v.serverKey).update(rfc.authMessage).digest('base64');
    assert.equal(serverSignature, rfc.serverSignature);
  });

  it('a different password does not match the same exchange', () => {
    const v = parts(scramVerifier('pencil2', 4096, rfc.salt));
    const clientSignature = createHmac('sha256', v.storedKey).update(rfc.authMessage).digest();
    const clientKey = Buffer.from(rfc.clientProof.map((b, i) => b ^ clientSignature[i]!));
    assert.notDeepEqual(createHash('sha256').update(clientKey).digest(), v.storedKey);
  });

  it('has the form PostgreSQL stores, with 4096 iterations and a 16-byte salt by default', () => {
    const v = parts(scramVerifier('s3cret'));
    assert.equal(v.iterations, 4096);
    assert.equal(v.salt.length, 16);
    assert.equal(v.storedKey.length, 32);
    assert.equal(v.serverKey.length, 32);
  });

  it('uses a fresh salt each time, so two roles with the same password get different verifiers', () => {
    const a = scramVerifier('same password');
    const b = scramVerifier('same password');
    assert.notEqual(a, b);
    assert.notDeepEqual(parts(a).salt, parts(b).salt);
  });

  it('never contains the password itself', () => {
    const password = 'correct-horse-battery-staple';
    const v = scramVerifier(password);
    assert.ok(!v.includes(password));
    assert.ok(!v.includes(Buffer.from(password).toString('base64')));
  });

  it('honours the iteration count it is given', () => {
    assert.equal(parts(scramVerifier('x', 10000)).iterations, 10000);
  });
});

describe('verifiers are the ones PostgreSQL itself stores', () => {
  // Stored by PostgreSQL 15.20 for CREATE ROLE ... PASSWORD '<plain>' with password_encryption=scram-sha-256.
  const storedByPostgres: [string, string, string][] = [
    [
      'an ASCII password',
      'Tr0ub4dor&3',
      'SCRAM-SHA-256$4096:dJAp4fdWsSjLMLpEyth+Uw==$OzxyKabNN9OCS4xcAamd0hWkTnp/JPSU5f6dpzMm8jU=:Z9jHymEeTtrQZzN7gtlGvikzvYisKt39aMyHJpCMaug=',
    ],
    [
      'a password with a soft hyphen, which SASLprep drops',
      'pass\u00adword',
      'SCRAM-SHA-256$4096:x6bPVCw83RS15zoiSjK3pA==$jkfJ02VVDPEpNDeHmtNaO7lk9zSSubomc5QCNQ0YMmY=:9ZeaXcXEGM2lIJG37DuLRR4082wFpqIaxPs8r9whUzI=',
    ],
    [
      'a password with an accent, a no-break space, a ligature and a zero-width joiner',
      'caf\u00e9\u00a0\ufb01\u200d1',
      'SCRAM-SHA-256$4096:Xu4ibC3B/R9lnNLxLO4KIA==$K+6yY3iA0yLpivoOc93O2mLSLczbDB6n2mh7EWHTz/k=:DhNoX4w138aSv6lXPtddMMp78WV43gT4rSG92qR0Nu0=',
    ],
  ];
  for (const [what, password, stored] of storedByPostgres) {
    it(`matches PostgreSQL for ${what}, so the role can log in with it`, () => {
      const { iterations, salt } = parts(stored);
      assert.equal(scramVerifier(password, iterations, salt), stored);
    });
  }

  it('maps non-ASCII spaces to a space and drops characters SASLprep maps to nothing before NFKC', () => {
    assert.equal(saslprepMapped('a\u00a0b\u3000c'), 'a b c');
    assert.equal(saslprepMapped('x\u200dy\ufe0fz\u00ad'), 'xyz');
    assert.equal(saslprepMapped('\ufb01'), 'fi');
    assert.equal(saslprepMapped('plain-ASCII_pw!'), 'plain-ASCII_pw!');
  });
});
