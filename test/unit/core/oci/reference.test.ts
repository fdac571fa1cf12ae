import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReference, parseReference, repositoryName } from '../../../../agent/core/oci/reference.js';

const D = `sha256:${'ab'.repeat(32)}`;

test('short names are normalised as podman and containers/image do', () => {
  const cases: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['docker://busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['someone/app:v2', 'docker.io/someone/app:v2'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/someone/app', 'docker.io/someone/app:latest'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    ['127.0.0.1:5000/team/app:1.0', '127.0.0.1:5000/team/app:1.0'],
    ['quay.io/org/sub/app', 'quay.io/org/sub/app:latest'],
    ['registry:5000/app', 'registry:5000/app:latest'],
    [`quay.io/org/app@${D}`, `quay.io/org/app@${D}`],
    [`quay.io/org/app:1.0@${D}`, `quay.io/org/app:1.0@${D}`],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
  ];
  for (const [input, normal] of cases) assert.equal(formatReference(parseReference(input)), normal, input);
});

test('the four fields, repositoryName and the transport form', () => {
  assert.deepEqual(parseReference('docker://example.com:8443/a/b:t'), { registry: 'example.com:8443', repository: 'a/b', tag: 't' });
  assert.deepEqual(parseReference(`example.com/a@${D}`), { registry: 'example.com', repository: 'a', digest: D });
  assert.equal(repositoryName(parseReference('busybox')), 'docker.io/library/busybox');
  assert.equal(formatReference(parseReference('busybox'), { transport: true }), 'docker://docker.io/library/busybox:latest');
});

test('bad references: image.bad-reference with the reason and the form in the hint', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['docker://', /empty/],
    ['Busybox', /must be lowercase/],
    ['quay.io/Org/app', /must be lowercase/],
    ['quay.io/org//app', /not a valid repository name component/],
    ['quay.io/org/app:', /not a valid tag/],
    ['quay.io/org/app:-x', /not a valid tag/],
    ['quay.io/org/app@sha256:abc', /not a valid digest/],
    ['quay.io/org/app@md5:' + 'a'.repeat(32), /not a valid digest/],
    ['quay.io:port/app', /port "port" is not a number/],
    ['-bad.io/app', /not a valid registry host name/],
    ['oci:dir:tag', /"tag"|not a valid/],
    ['https://quay.io/app', /only the docker:\/\/ transport/],
    ['a'.repeat(64), /image ID/],
    [`quay.io/${'a/'.repeat(130)}b`, /longer than 255/],
    ['quay.io/', /no repository/],
  ];
  for (const [input, message] of bad) {
    assert.throws(() => parseReference(input), (e: { code: string; message: string; subject: string; hint: string }) => {
      assert.equal(e.code, 'image.bad-reference', input);
      assert.match(e.message, message, input);
      assert.equal(e.subject, input);
      assert.match(e.hint, /\[docker:\/\/\]HOST\[:PORT\]\/REPOSITORY\[:TAG\|@sha256:HEX\]/);
      return true;
    }, input);
  }
});
