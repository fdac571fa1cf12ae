import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractDiscoveryMeta } from '../../../../agent/core/appc/meta.js';

/** appc/spec discovery/testdata/meta06.html, as a literal. */
const META06 = `<!DOCTYPE html>

<html>
<head>
	<title>My app</title>
	<meta name="ac-discovery" content="example.com https://storage.example.com/{name}-{version}-{os}-{arch}.{ext}">
	<meta name="ac-discovery" content="example.com https://storage.example.com/{name}-{version}.{ext}">
	<meta name="ac-discovery" content="example.com hdfs://storage.example.com/{name}-{version}-{os}-{arch}.{ext}">
	<meta name="ac-discovery-pubkeys" content="example.com https://example.com/pubkeys.gpg">
</head>

<body>
	<h1>My App</h1>
</body>
</html>
`;

test('the meta tags of a discovery page, in document order', () => {
  assert.deepEqual(extractDiscoveryMeta(META06), [
    { name: 'ac-discovery', prefix: 'example.com', uri: 'https://storage.example.com/{name}-{version}-{os}-{arch}.{ext}' },
    { name: 'ac-discovery', prefix: 'example.com', uri: 'https://storage.example.com/{name}-{version}.{ext}' },
    { name: 'ac-discovery', prefix: 'example.com', uri: 'hdfs://storage.example.com/{name}-{version}-{os}-{arch}.{ext}' },
    { name: 'ac-discovery-pubkeys', prefix: 'example.com', uri: 'https://example.com/pubkeys.gpg' },
  ]);
});

test('HTML as browsers read it: case, quoting, references, self-closing tags', () => {
  const html = [
    `<META NAME=ac-discovery CONTENT='a.com/x https://a.com/{name}.{ext}?a=1&amp;b=2'/>`,
    `<meta content="  b.com   https://b.com/k.gpg  " name="ac-discovery-pubkeys">`,
    `<meta name="ac-discovery" content="c.com&#32;https://c.com/{name}.{ext}">`,
  ].join('\n');
  assert.deepEqual(extractDiscoveryMeta(html), [
    { name: 'ac-discovery', prefix: 'a.com/x', uri: 'https://a.com/{name}.{ext}?a=1&b=2' },
    { name: 'ac-discovery-pubkeys', prefix: 'b.com', uri: 'https://b.com/k.gpg' },
    { name: 'ac-discovery', prefix: 'c.com', uri: 'https://c.com/{name}.{ext}' },
  ]);
});

test('tags that do not count', () => {
  const html = [
    '<!-- <meta name="ac-discovery" content="a.com https://commented.out/{name}.{ext}"> -->',
    '<script>document.write(\'<meta name="ac-discovery" content="a.com https://scripted/{name}.{ext}">\')</script>',
    '<meta name="description" content="a.com https://not-ac/">',
    '<meta name="ac-discovery" content="a.com">',
    '<meta name="ac-discovery" content="">',
    '<meta name="ac-discovery">',
    '<metadata name="ac-discovery" content="a.com https://other-tag/">',
    '<p>a < b, <meta name="ac-discovery" content="a.com https://kept/{name}.{ext}">',
  ].join('\n');
  assert.deepEqual(extractDiscoveryMeta(html), [{ name: 'ac-discovery', prefix: 'a.com', uri: 'https://kept/{name}.{ext}' }]);
});

test('a tab does not separate prefix and template (the reference splits on a space)', () => {
  assert.deepEqual(extractDiscoveryMeta('<meta name="ac-discovery" content="a.com\thttps://x/{name}.{ext}">'), []);
});
