// Intune workloads through Microsoft's JavaScript Graph client, and the audit
// events they write (spec intune-workloads.md §2, §3.1, §3.5): as the development
// tenant's auditgraph-intune-admin app, create a compliance policy and run a
// remote action (syncDevice) on a seeded managed device, each with a
// client-request-id of our own, then find each call's event in the audit log
// by resource id (and by time) with its activity type and correlationId.
//
// Client wiring as in graph-client.test.js. .ci/run starts a fresh server with
// --demo-events (seeded managed devices) and sets AG_TEST_HTTPS_URL and
// AG_TEST_HTTP_URL. This file never resets the store.
"use strict";

const { test, before } = require("node:test");
const assert = require("node:assert/strict");
const { randomUUID } = require("node:crypto");
const { Client } = require("@microsoft/microsoft-graph-client");
const {
  TokenCredentialAuthenticationProvider,
} = require("@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials");
const { ClientSecretCredential } = require("@azure/identity");

const TENANT = "7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001";
const INTUNE_ADMIN = ["00000000-0000-0000-0000-00000000a004", "intune-admin-secret"];
const EVENTS = "/deviceManagement/auditEvents";
const POLICIES = "/deviceManagement/deviceCompliancePolicies";
const DEVICES = "/deviceManagement/managedDevices";

const HTTPS = process.env.AG_TEST_HTTPS_URL.replace(/\/$/, "");
const ADMIN = process.env.AG_TEST_HTTP_URL.replace(/\/$/, "") + "/_auditgraph";

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

// The emulator clock's "now" (what stamps events), floored to the second, as an
// OData DateTimeOffset literal.
async function serverNow() {
  const response = await fetch(`${ADMIN}/health`);
  assert.ok(response.ok, `GET /health: ${response.status}`);
  const { now } = await response.json();
  return `${now.slice(0, 19)}Z`;
}

// Every event since `start` that names `resourceId`, oldest first, all pages.
async function eventsFor(client, start, resourceId) {
  let page = await client
    .api(EVENTS)
    .filter(`activityDateTime ge ${start} and resources/any(r:r/resourceId eq '${resourceId}')`)
    .orderby(["activityDateTime asc"])
    .get();
  const events = [...page.value];
  while (page["@odata.nextLink"]) {
    page = await client.api(page["@odata.nextLink"]).get();
    events.push(...page.value);
  }
  return events;
}

let client;
let start;

before(async () => {
  client = graph(INTUNE_ADMIN);
  start = await serverNow();
});

test("creating a compliance policy writes Create DeviceCompliancePolicy", async () => {
  const requestId = randomUUID();
  const displayName = `SDK suite (js) - Win baseline ${requestId.slice(0, 8)}`;
  const created = await client
    .api(POLICIES)
    .header("client-request-id", requestId)
    .post({
      "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
      displayName,
      passwordRequired: true,
      passwordMinimumLength: 8,
      scheduledActionsForRule: [
        {
          ruleName: "PasswordRequired",
          scheduledActionConfigurations: [{ actionType: "block", gracePeriodHours: 0, notificationTemplateId: "" }],
        },
      ],
    });
  assert.match(created.id, /^[0-9a-f-]{36}$/);
  assert.equal(created["@odata.type"], "#microsoft.graph.windows10CompliancePolicy");
  assert.equal(created.displayName, displayName);
  assert.equal(created.version, 1);
  assert.ok(created.createdDateTime && created.lastModifiedDateTime, JSON.stringify(created));

  const events = await eventsFor(client, start, created.id);
  assert.deepEqual(
    events.map((e) => e.activityType),
    ["Create DeviceCompliancePolicy"],
    JSON.stringify(events),
  );
  const [event] = events;
  assert.equal(event.activityOperationType, "Create");
  assert.equal(event.category, "Compliance");
  assert.equal(event.componentName, "DeviceCompliancePolicy");
  assert.equal(event.activityResult, "Success");
  assert.equal(event.correlationId, requestId);
  assert.equal(event.actor.auditActorType, "Application");
  assert.equal(event.actor.applicationId, INTUNE_ADMIN[0]);
  assert.equal(event.resources[0].resourceId, created.id);
  assert.equal(event.resources[0].auditResourceType, "Windows10CompliancePolicy");
  assert.equal(event.resources[0].displayName, displayName);
  const names = event.resources[0].modifiedProperties.map((p) => p.displayName);
  assert.ok(names.includes("DeviceManagementAPIVersion"), names.join(", "));

  // Tidy up: the policy goes, and so writes its Delete event.
  await client.api(`${POLICIES}/${created.id}`).delete();
  const after = await eventsFor(client, start, created.id);
  assert.deepEqual(
    after.map((e) => e.activityType),
    ["Create DeviceCompliancePolicy", "Delete DeviceCompliancePolicy"],
  );
});

test("syncDevice on a managed device writes syncDevice ManagedDevice", async () => {
  const { value: devices } = await client.api(DEVICES).get();
  assert.ok(devices.length > 0, "a server started with --demo-events has seeded managed devices");
  const device = devices[0];
  const requestId = randomUUID();
  // An action without parameters: the client posts no body; 204 resolves to undefined.
  const answer = await client.api(`${DEVICES}/${device.id}/syncDevice`).header("client-request-id", requestId).post();
  assert.equal(answer, undefined);

  const events = await eventsFor(client, start, device.id);
  assert.deepEqual(
    events.map((e) => e.activityType),
    ["syncDevice ManagedDevice"],
    JSON.stringify(events),
  );
  const [event] = events;
  assert.equal(event.activityOperationType, "Action");
  assert.equal(event.category, "Device");
  assert.equal(event.componentName, "ManagedDevices");
  assert.equal(event.activityResult, "Success");
  assert.equal(event.correlationId, requestId);
  assert.equal(event.actor.applicationId, INTUNE_ADMIN[0]);
  assert.equal(event.resources[0].resourceId, device.id);
  assert.equal(event.resources[0].auditResourceType, "ManagedDevice");
});
