// Microsoft's JavaScript Graph client (@microsoft/microsoft-graph-client) with
// @azure/identity against auditgraph, wired as the client's national-cloud docs
// show: ClientSecretCredential with auditgraph as authorityHost (instance
// discovery off), TokenCredentialAuthenticationProvider, and
// Client.initWithMiddleware with auditgraph as baseUrl and in customHosts (so
// the auth, retry and telemetry middleware treat it as Graph). Only the host,
// the authority and the trusted CA (NODE_EXTRA_CA_CERTS) differ from a tenant.
//
// .ci/run starts a fresh server and sets:
//   AG_TEST_HTTPS_URL  https://localhost:PORT (authority and Graph API)
//   AG_TEST_HTTP_URL   http://127.0.0.1:PORT  (the admin API, from loopback)
"use strict";

const { test, before } = require("node:test");
const assert = require("node:assert/strict");
const { Client, PageIterator, GraphError } = require("@microsoft/microsoft-graph-client");
const {
  TokenCredentialAuthenticationProvider,
} = require("@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials");
const { ClientSecretCredential } = require("@azure/identity");

const TENANT = "7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001";
const READER = ["00000000-0000-0000-0000-00000000a001", "reader-secret"];
const WRITER = ["00000000-0000-0000-0000-00000000a002", "writer-secret"];
const NOACCESS = ["00000000-0000-0000-0000-00000000a003", "noaccess-secret"];
const EVENTS = "/deviceManagement/auditEvents";
const SEEDED = 90;

const HTTPS = process.env.AG_TEST_HTTPS_URL.replace(/\/$/, "");
const ADMIN = process.env.AG_TEST_HTTP_URL.replace(/\/$/, "") + "/_auditgraph";

async function admin(method, path, body) {
  const response = await fetch(ADMIN + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

function graph([clientId, secret]) {
  const credential = new ClientSecretCredential(TENANT, clientId, secret, {
    authorityHost: HTTPS,
    disableInstanceDiscovery: true,
  });
  return Client.initWithMiddleware({
    baseUrl: `${HTTPS}/`, // no version here
    customHosts: new Set([new URL(HTTPS).hostname]), // hostname only, no port
    authProvider: new TokenCredentialAuthenticationProvider(credential, {
      scopes: ["https://graph.microsoft.com/.default"],
    }),
  });
}

before(async () => {
  const reset = await admin("POST", "/reset", { count: SEEDED, seed: 11 });
  assert.equal(reset.seeded, SEEDED);
});

test("list with filter, orderby, select, top and count", async () => {
  const page = await graph(READER)
    .api(EVENTS)
    .filter("category eq 'Device' and activityDateTime ge 2020-01-01T00:00:00Z")
    .orderby(["activityDateTime desc"])
    .select(["id", "activityDateTime", "category"])
    .top(4)
    .count(true)
    .get();
  assert.equal(page.value.length, 4);
  assert.ok(page["@odata.count"] > 4 && page["@odata.count"] < SEEDED, String(page["@odata.count"]));
  assert.ok(page["@odata.nextLink"].startsWith(`${HTTPS}/v1.0${EVENTS}?`), page["@odata.nextLink"]);
  for (const event of page.value) {
    assert.equal(event.category, "Device");
    assert.deepEqual(Object.keys(event).sort(), ["activityDateTime", "category", "id"]);
  }
  const times = page.value.map((e) => e.activityDateTime);
  assert.deepEqual(times, [...times].sort().reverse());
});

test("PageIterator reads every page", async () => {
  const client = graph(READER);
  const first = await client.api(EVENTS).top(8).count(true).get();
  assert.equal(first["@odata.count"], SEEDED);
  const ids = [];
  const iterator = new PageIterator(client, first, (event) => {
    ids.push(event.id);
    return true;
  });
  await iterator.iterate();
  assert.ok(iterator.isComplete());
  assert.equal(ids.length, SEEDED);
  assert.equal(new Set(ids).size, SEEDED);
});

test("get one event, on v1.0 and beta, and the $count segment", async () => {
  const client = graph(READER);
  const [first] = (await client.api(EVENTS).top(1).get()).value;
  const event = await client.api(`${EVENTS}/${first.id}`).get();
  assert.equal(event.id, first.id);
  assert.ok(event["@odata.context"].endsWith("/$entity"));
  assert.equal(event.actor.type, undefined, "v1.0 has auditActorType only");
  const beta = await client.api(`${EVENTS}/${first.id}`).version("beta").get();
  assert.equal(beta.actor.type, beta.actor.auditActorType);
  assert.equal(await client.api(`${EVENTS}/$count`).get(), String(SEEDED));
  const categories = await client.api(`${EVENTS}/getAuditCategories`).get();
  assert.equal(categories.value.length, 21);
});

test("create and delete with the writer app", async () => {
  const client = graph(WRITER);
  const created = await client.api(EVENTS).post({
    displayName: "Delete MobileApp",
    category: "Application",
    activityType: "Delete MobileApp",
    activityOperationType: "Delete",
    activityResult: "Success",
    correlationId: "21e86a8c-3010-46a8-86b5-4580e432ff52",
  });
  assert.ok(created.id);
  assert.equal(created.actor.applicationId, WRITER[0]);
  await client.api(`${EVENTS}/${created.id}`).delete();
  await assert.rejects(client.api(`${EVENTS}/${created.id}`).get(), (error) => {
    assert.ok(error instanceof GraphError);
    assert.equal(error.statusCode, 404);
    assert.equal(error.code, "ResourceNotFound");
    return true;
  });
});

test("errors surface as GraphError with Graph's code and ids", async () => {
  await assert.rejects(graph(NOACCESS).api(EVENTS).get(), (error) => {
    assert.ok(error instanceof GraphError);
    assert.equal(error.statusCode, 403);
    assert.equal(error.code, "Forbidden");
    assert.match(error.message, /DeviceManagementApps\.Read\.All/);
    assert.match(error.requestId, /^[0-9a-f-]{36}$/);
    assert.ok(error.date instanceof Date && !Number.isNaN(error.date.getTime()));
    return true;
  });
  await assert.rejects(graph(READER).api(EVENTS).filter("nonsense eq 1").get(), (error) => {
    assert.equal(error.statusCode, 400);
    assert.equal(error.code, "BadRequest");
    return true;
  });
});

test("the RetryHandler absorbs a 429 and sends Retry-Attempt", async () => {
  // One read per app per second: the second call gets 429 with Retry-After: 1.
  await admin("PATCH", "/throttling", { limits: { appAny: 1 }, windowSeconds: 1 });
  await admin("DELETE", "/requests");
  try {
    const client = graph(READER);
    await client.api(EVENTS).top(1).get();
    const page = await client.api(EVENTS).top(2).get();
    assert.equal(page.value.length, 2);
  } finally {
    await admin("PATCH", "/throttling", { limits: { appAny: 1000 }, windowSeconds: 20 });
  }
  const calls = (await admin("GET", "/requests")).value.filter((e) => e.path.endsWith("/auditEvents"));
  assert.deepEqual(
    calls.map((e) => [e.status, e.retryAttempt, e.injected]),
    [
      [200, null, []],
      [429, null, ["throttled"]],
      [200, "1", []],
    ],
  );
});

test("the RetryHandler absorbs a 503 fault; the journal shows the retry", async () => {
  await admin("PUT", "/faults", {
    rules: [{ method: "GET", path: "*/auditEvents", nth: 1, fault: "status", status: 503, retryAfter: 1 }],
  });
  await admin("DELETE", "/requests");
  const page = await graph(READER).api(EVENTS).top(3).get();
  assert.equal(page.value.length, 3);
  await admin("DELETE", "/faults");
  const calls = (await admin("GET", "/requests")).value.filter((e) => e.path.endsWith("/auditEvents"));
  assert.deepEqual(
    calls.map((e) => [e.status, e.retryAttempt, e.injected]),
    [
      [503, null, ["status-503"]],
      [200, "1", []],
    ],
  );
  // The JS client sends its client-request-id to a custom host, the same on the retry.
  assert.match(calls[0].clientRequestId, /^[0-9a-f-]{36}$/);
  assert.equal(calls[1].clientRequestId, calls[0].clientRequestId);
});

test("PageIterator follows a nextLink through an empty page (the empty-page fault)", async () => {
  await admin("PUT", "/faults", { rules: [{ method: "GET", path: "*/auditEvents", nth: 2, fault: "empty-page" }] });
  try {
    const client = graph(READER);
    const first = await client.api(EVENTS).top(30).get();
    const ids = [];
    await new PageIterator(client, first, (event) => ids.push(event.id) > 0).iterate();
    assert.equal(ids.length, SEEDED, "unlike Python's, the JS iterator keeps going");
  } finally {
    await admin("DELETE", "/faults");
  }
});

test("a dropped connection rejects the call", async () => {
  await admin("PUT", "/faults", { rules: [{ method: "GET", path: "*/auditEvents", nth: 1, fault: "drop" }] });
  try {
    await assert.rejects(graph(READER).api(EVENTS).top(1).get());
    const page = await graph(READER).api(EVENTS).top(1).get();
    assert.equal(page.value.length, 1, "the next call is served");
  } finally {
    await admin("DELETE", "/faults");
  }
});
