// Live routing to an event hub, read with @azure/event-hubs over auditgraph's Event
// Hubs-compatible AMQP endpoint (issue 17; spec live-routing.md §2 and §5.2,
// azure-monitor.md §7): the monitoring app saves an Intune diagnostic setting
// through ARM naming an event hub (the setting creates it, 4 partitions), the
// writer app posts audit events through Graph, the admin API flushes the router,
// and EventHubConsumerClient.subscribe from earliestEventPosition finds each event
// once, as a resource-log record inside a {"records":[…]} message; a delivery
// over 256 KB comes as several messages. Then the endpoint as the SDK uses it
// against the real service: hub and partition properties, a producer round trip
// (a batch to a partition, events with a partitionKey), a wrong SAS key, an
// unknown hub and a link to a partition out of range. Each test makes its own
// hub (a setting per test: settings may not share the namespace's rule for one
// category, so they follow one another).
//
// Tokens from @azure/identity (ClientSecretCredential with auditgraph as
// authorityHost), as graph-client.test.js gets them. .ci/run starts auditgraph
// with --eventhubs 127.0.0.1:15672 and sets AG_TEST_EVENTHUBS_CONNECTION_STRING
// (the official emulator's string with the port), AG_TEST_HTTPS_URL and
// AG_TEST_HTTP_URL. Without the connection string every test is skipped.
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { randomUUID } = require("node:crypto");
const { ClientSecretCredential } = require("@azure/identity");
const {
  EventHubConsumerClient,
  EventHubProducerClient,
  MessagingError,
  earliestEventPosition,
} = require("@azure/event-hubs");

const CONNECTION_STRING = process.env.AG_TEST_EVENTHUBS_CONNECTION_STRING;
const skip = CONNECTION_STRING
  ? false
  : "AG_TEST_EVENTHUBS_CONNECTION_STRING is unset: start auditgraph with --eventhubs as .ci/run does";
const limits = { skip, timeout: 120_000 };

const TENANT = "7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001";
const WRITER = ["00000000-0000-0000-0000-00000000a002", "writer-secret"];
const MONITORING = ["00000000-0000-0000-0000-00000000a005", "monitoring-secret"];
const RULE_ID =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.EventHub" +
  "/namespaces/auditgraph/authorizationRules/RootManageSharedAccessKey";
const ARM_API = "api-version=2017-04-01-preview";
const PARTITIONS = ["0", "1", "2", "3"];
const WAIT_MS = 30_000;

const HTTPS = (process.env.AG_TEST_HTTPS_URL || "").replace(/\/$/, "");
const ADMIN = (process.env.AG_TEST_HTTP_URL || "").replace(/\/$/, "") + "/_auditgraph";

async function token([clientId, secret], scope) {
  const credential = new ClientSecretCredential(TENANT, clientId, secret, {
    authorityHost: HTTPS,
    disableInstanceDiscovery: true,
  });
  return (await credential.getToken(scope)).token;
}

async function call(method, url, bearer, body) {
  const headers = { authorization: `Bearer ${bearer}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const response = await fetch(url, { method, headers, body: payload });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${url}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Runs fn(hub) on a fresh hub, made by a diagnostic setting sending AuditLogs to
// it; the setting is deleted afterwards.
async function withHub(fn) {
  const suffix = randomUUID().slice(0, 8);
  const [name, hub] = [`sdk-js-eh-${suffix}`, `sdk-js-hub-${suffix}`];
  const url = `${HTTPS}/providers/microsoft.intune/diagnosticSettings/${name}?${ARM_API}`;
  const arm = await token(MONITORING, "https://management.azure.com/.default");
  const saved = await call("PUT", url, arm, {
    properties: {
      eventHubAuthorizationRuleId: RULE_ID,
      eventHubName: hub,
      logs: [{ category: "AuditLogs", enabled: true }],
    },
  });
  assert.equal(saved.properties.eventHubName, hub);
  try {
    await fn(hub);
  } finally {
    await call("DELETE", url, arm);
  }
}

// Subscribes to every partition from the start; wait(done) polls what arrived.
function subscribe(hub, options = {}) {
  const client = new EventHubConsumerClient("$Default", CONNECTION_STRING, hub);
  const events = [];
  const errors = [];
  const subscription = client.subscribe(
    {
      processEvents: async (batch, context) => {
        for (const event of batch) events.push({ partitionId: context.partitionId, event });
      },
      processError: async (error) => {
        errors.push(error);
      },
    },
    { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1, ...options },
  );
  return {
    events,
    async wait(done, what) {
      const deadline = Date.now() + WAIT_MS;
      while (!done(events)) {
        const got = `${events.length} events, errors ${errors}`;
        assert.ok(Date.now() < deadline, `${what}: not within ${WAIT_MS} ms; ${got}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return [...events];
    },
    async close() {
      await subscription.close();
      await client.close();
    },
  };
}

async function writeEvents(count, extra = {}) {
  const graph = await token(WRITER, "https://graph.microsoft.com/.default");
  const written = new Map();
  for (let i = 0; i < count; i++) {
    const event = await call("POST", `${HTTPS}/v1.0/deviceManagement/auditEvents`, graph, {
      displayName: `Event hub routing (js) ${randomUUID().slice(0, 8)} #${i}`,
      category: "Application",
      activityType: "Delete MobileApp",
      activityOperationType: "Delete",
      activityResult: "Success",
      correlationId: randomUUID(),
      ...extra,
    });
    written.set(event.id, event);
  }
  return written;
}

const recordsOf = (events) => events.flatMap(({ event }) => event.body.records);

async function flush() {
  const response = await fetch(`${ADMIN}/routing/flush`, { method: "POST" });
  assert.equal(response.status, 200, await response.text());
}

test("a diagnostic setting delivers the audit events to its hub", limits, async () => {
  await withHub(async (hub) => {
    const consumer = subscribe(hub);
    try {
      const written = await writeEvents(3);
      await flush();
      const events = await consumer.wait((evs) => recordsOf(evs).length >= 3, "the 3 records");
      for (const { partitionId, event } of events) {
        assert.ok(PARTITIONS.includes(partitionId), partitionId);
        assert.deepEqual(Object.keys(event.body), ["records"]); // the data section, JSON-parsed by the SDK
        assert.equal(typeof event.sequenceNumber, "number");
        assert.equal(typeof event.offset, "string");
        assert.ok(event.enqueuedTimeUtc instanceof Date, String(event.enqueuedTimeUtc));
        assert.ok(event.partitionKey == null, String(event.partitionKey));
      }
      const records = recordsOf(events);
      const ids = records.map((r) => r.properties.AuditEventId);
      assert.deepEqual([...ids].sort(), [...written.keys()].sort());
      for (const record of records) {
        const event = written.get(record.properties.AuditEventId);
        assert.equal(record.category, "AuditLogs");
        assert.equal(record.time, event.activityDateTime);
        assert.equal(record.operationName, event.displayName);
        assert.equal(record.correlationId, event.correlationId);
        assert.equal(record.tenantId.toLowerCase(), TENANT);
      }
    } finally {
      await consumer.close();
    }
  });
});

test("a delivery over 256 KB is split into messages of at most 256 KB", limits, async () => {
  await withHub(async (hub) => {
    // Two events of about 200 KB: ten resources with twenty 1,000-character new values each.
    const resources = Array.from({ length: 10 }, (_, i) => ({
      displayName: `resource ${i}`,
      type: "MobileApp",
      resourceId: randomUUID(),
      modifiedProperties: Array.from({ length: 20 }, (_, j) => ({
        displayName: `setting ${j}`,
        oldValue: null,
        newValue: "v".repeat(1000),
      })),
    }));
    const written = await writeEvents(2, { resources });
    await flush();
    const consumer = subscribe(hub, { skipParsingBodyAsJson: true });
    let events;
    try {
      events = await consumer.wait((evs) => evs.length >= 2, "the 2 messages");
    } finally {
      await consumer.close();
    }
    const ids = [];
    for (const { event } of events) {
      assert.ok(Buffer.isBuffer(event.body), typeof event.body);
      assert.ok(event.body.length <= 256 * 1024, `a message of ${event.body.length} bytes`);
      const { records } = JSON.parse(event.body.toString("utf8"));
      assert.equal(records.length, 1, "two such records do not fit in one message");
      assert.equal(records[0].properties.Targets.length, 10);
      ids.push(records[0].properties.AuditEventId);
    }
    assert.deepEqual(ids.sort(), [...written.keys()].sort());
  });
});

test("hub and partition properties", limits, async () => {
  await withHub(async (hub) => {
    const client = new EventHubConsumerClient("$Default", CONNECTION_STRING, hub);
    try {
      const properties = await client.getEventHubProperties();
      assert.equal(properties.name, hub);
      assert.deepEqual(properties.partitionIds, PARTITIONS);
      assert.ok(properties.createdOn instanceof Date, String(properties.createdOn));
      assert.deepEqual(await client.getPartitionIds(), PARTITIONS);
      const empty = await client.getPartitionProperties("2");
      assert.equal(empty.eventHubName, hub);
      assert.equal(empty.partitionId, "2");
      assert.equal(empty.isEmpty, true);
      assert.equal(empty.lastEnqueuedSequenceNumber, -1);
      assert.equal(typeof empty.lastEnqueuedOffset, "string");
    } finally {
      await client.close();
    }
  });
});

test("producer round trip: a batch to a partition and events with a partition key", limits, async () => {
  await withHub(async (hub) => {
    const run = randomUUID();
    const producer = new EventHubProducerClient(CONNECTION_STRING, hub);
    try {
      const batch = await producer.createBatch({ partitionId: "3" });
      for (let n = 0; n < 3; n++) {
        assert.ok(batch.tryAdd({ body: { to: "3", n }, properties: { run, n } }));
      }
      await producer.sendBatch(batch);
      await producer.sendBatch(
        [0, 1].map((n) => ({ body: `keyed #${n}`, properties: { run, n } })),
        { partitionKey: "device-42" },
      );
    } finally {
      await producer.close();
    }
    const consumer = subscribe(hub);
    let events;
    try {
      const ours = (evs) => evs.filter(({ event }) => event.properties?.run === run);
      events = ours(await consumer.wait((evs) => ours(evs).length >= 5, "the 5 events"));
    } finally {
      await consumer.close();
    }
    const toThree = events.filter(({ event }) => typeof event.body === "object");
    assert.deepEqual(toThree.map(({ partitionId }) => partitionId), ["3", "3", "3"]);
    assert.deepEqual(toThree.map(({ event }) => event.body), [0, 1, 2].map((n) => ({ to: "3", n })));
    assert.deepEqual(toThree.map(({ event }) => event.properties.n), [0, 1, 2]);
    const numbers = toThree.map(({ event }) => event.sequenceNumber);
    assert.deepEqual(numbers, [0, 1, 2]);
    const keyed = events.filter(({ event }) => typeof event.body === "string");
    assert.deepEqual(keyed.map(({ event }) => event.body), ["keyed #0", "keyed #1"]);
    assert.deepEqual(keyed.map(({ event }) => event.partitionKey), ["device-42", "device-42"]);
    assert.equal(keyed[0].partitionId, keyed[1].partitionId, "one key, one partition");
    for (const { event } of events) assert.equal(typeof event.offset, "string");

    const client = new EventHubConsumerClient("$Default", CONNECTION_STRING, hub);
    try {
      const three = await client.getPartitionProperties("3");
      assert.equal(three.isEmpty, false);
      assert.equal(three.beginningSequenceNumber, 0);
      assert.equal(three.lastEnqueuedSequenceNumber, 2);
      assert.equal(three.lastEnqueuedOffset, toThree[2].event.offset);
      assert.equal(three.lastEnqueuedOnUtc.getTime(), toThree[2].event.enqueuedTimeUtc.getTime());
    } finally {
      await client.close();
    }
  });
});

test("a wrong SAS key is refused with UnauthorizedError", limits, async () => {
  await withHub(async (hub) => {
    const wrong = CONNECTION_STRING.replace("SharedAccessKey=", "SharedAccessKey=not-the-key-");
    assert.notEqual(wrong, CONNECTION_STRING);
    const retryOptions = { maxRetries: 0 };
    const consumer = new EventHubConsumerClient("$Default", wrong, hub, { retryOptions });
    try {
      await assert.rejects(consumer.getEventHubProperties(), (error) => {
        assert.ok(error instanceof MessagingError, String(error));
        assert.equal(error.code, "UnauthorizedError", String(error));
        return true;
      });
    } finally {
      await consumer.close();
    }
    const producer = new EventHubProducerClient(wrong, hub, { retryOptions });
    try {
      const sending = producer.sendBatch([{ body: "refused" }], { partitionId: "0" });
      await assert.rejects(sending, { code: "UnauthorizedError" });
    } finally {
      await producer.close();
    }
  });
});

test("an unknown hub is not found; a link to partition 9 of 4 is out of range", limits, async () => {
  const retryOptions = { maxRetries: 0 };
  const unknown = `no-such-hub-${randomUUID().slice(0, 8)}`;
  const nowhere = new EventHubConsumerClient("$Default", CONNECTION_STRING, unknown, { retryOptions });
  try {
    await assert.rejects(nowhere.getEventHubProperties(), { code: "MessagingEntityNotFoundError" });
  } finally {
    await nowhere.close();
  }
  await withHub(async (hub) => {
    // The JavaScript SDK attaches to the partition it is given: the refusal is the service's.
    const client = new EventHubConsumerClient("$Default", CONNECTION_STRING, hub, { retryOptions });
    const errors = [];
    const subscription = client.subscribe(
      "9",
      { processEvents: async () => {}, processError: async (error) => errors.push(error) },
      { startPosition: earliestEventPosition },
    );
    try {
      const deadline = Date.now() + WAIT_MS;
      while (errors.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(errors[0]?.code, "ArgumentOutOfRangeError", String(errors[0]));
      assert.match(errors[0].message, /between 0 and 3/);
    } finally {
      await subscription.close();
      await client.close();
    }
  });
});
