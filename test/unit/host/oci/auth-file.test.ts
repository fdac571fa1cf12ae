import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credentialsFor } from '../../../../agent/host/oci/auth-file.js';
import { parseReference } from '../../../../agent/core/oci/reference.js';
import { tmpdir } from '../../../lib/tmpdir.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('the most specific key wins: repository, namespace, registry; legacy URL keys count for their host', async (t) => {
  const file = join(await tmpdir(t), 'auth.json');
  await writeFile(file, JSON.stringify({
    auths: {
      'r.example': { auth: b64('host:1') },
      'r.example/team': { auth: b64('team:2') },
      'r.example/team/app': { auth: b64('app:3:with:colons') },
      'https://index.docker.io/v1/': { auth: b64('hub:4') },
      'other.example': {},
    },
  }));
  const creds = (ref: string) => credentialsFor(file, parseReference(ref));
  assert.deepEqual(await creds('r.example/team/app:1'), { username: 'app', password: '3:with:colons' });
  assert.deepEqual(await creds('r.example/team/other'), { username: 'team', password: '2' });
  assert.deepEqual(await creds('r.example/elsewhere/x'), { username: 'host', password: '1' });
  assert.deepEqual(await creds('r.example/teams/app'), { username: 'host', password: '1' }, 'a namespace is a whole path component');
  assert.deepEqual(await creds('busybox'), { username: 'hub', password: '4' });
  assert.equal(await creds('other.example/x'), undefined);
  assert.equal(await creds('r.example:5000/team/app'), undefined, 'the port is part of the key');
});

test('a missing file is no credentials; a malformed one names the file and the entry', async (t) => {
  const dir = await tmpdir(t);
  assert.equal(await credentialsFor(join(dir, 'none.json'), parseReference('r.example/a')), undefined);
  const file = join(dir, 'auth.json');
  for (const [text, message] of [
    ['{', /not valid JSON/],
    ['{"auths": []}', /"auths" is not an object/],
    ['{"auths": {"r.example": {"auth": "bm9jb2xvbg=="}}}', /auths\["r\.example"\]\.auth is not base64 of user:password/],
    ['{"auths": {"r.example": {"auth": 1}}}', /auths\["r\.example"\]\.auth is not a string/],
  ] as const) {
    await writeFile(file, text);
    await assert.rejects(credentialsFor(file, parseReference('r.example/a')), (e: { code: string; message: string; subject: string }) => {
      assert.equal(e.code, 'image.auth-file-invalid');
      assert.match(e.message, message);
      assert.equal(e.subject, file);
      return true;
    });
  }
});
