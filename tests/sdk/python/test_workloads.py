"""Intune workloads through msgraph-sdk's own request builders, and the audit events
they write (spec intune-workloads.md §2, §3.1, §3.5, §5 B and C).

As the development tenant's auditgraph-intune-admin app (client credentials), the
module fixture creates a windows10CompliancePolicy, patches two of its settings,
assigns it to a group, deletes it, and wipes a seeded managed device, each call
with a client-request-id of its own. Then the tests read the audit log through the
same SDK (device_management.audit_events, with $filter on activityDateTime and on
resources/any) and check that exactly those five events are there, shaped as the
contract says: activity and operation types, category, component, the actor,
the resources and the modifiedProperties that matter.

Client wiring as in test_msgraph_sdk.py; .ci/run starts a fresh server (with
--demo-events, so seeded managed devices exist); see test_identity.py for the
environment variables. This module never resets the store.
"""

import asyncio
import base64
import json
import os
import uuid
from datetime import datetime

import pytest
import requests
from azure.identity import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.device_management.audit_events.audit_events_request_builder import (
    AuditEventsRequestBuilder,
)
from msgraph.generated.device_management.device_compliance_policies.item.assign.assign_post_request_body import (
    AssignPostRequestBody,
)
from msgraph.generated.device_management.managed_devices.item.wipe.wipe_post_request_body import (
    WipePostRequestBody,
)
from msgraph.generated.models.device_compliance_action_item import DeviceComplianceActionItem
from msgraph.generated.models.device_compliance_action_type import DeviceComplianceActionType
from msgraph.generated.models.device_compliance_policy_assignment import DeviceCompliancePolicyAssignment
from msgraph.generated.models.device_compliance_scheduled_action_for_rule import (
    DeviceComplianceScheduledActionForRule,
)
from msgraph.generated.models.group_assignment_target import GroupAssignmentTarget
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.required_password_type import RequiredPasswordType
from msgraph.generated.models.windows10_compliance_policy import Windows10CompliancePolicy
from msgraph_core import APIVersion, GraphClientFactory

TENANT = "7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001"
INTUNE_ADMIN = ("00000000-0000-0000-0000-00000000a004", "intune-admin-secret")
SCOPES = ["https://graph.microsoft.com/.default"]
INTUNE_ADMIN_ROLES = {
    "DeviceManagementConfiguration.ReadWrite.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementApps.ReadWrite.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
    "DeviceManagementManagedDevices.PrivilegedOperations.All",
    "DeviceManagementRBAC.ReadWrite.All",
    "DeviceManagementScripts.ReadWrite.All",
}

HTTPS = os.environ["AG_TEST_HTTPS_URL"].rstrip("/")
ADMIN = os.environ["AG_TEST_HTTP_URL"].rstrip("/") + "/_auditgraph"

POLICY_TYPE = "Windows10CompliancePolicy"
POLICY_NAME = f"SDK suite - Win baseline {uuid.uuid4().hex[:8]}"
EXPECTED_TYPES = [
    "Create DeviceCompliancePolicy",
    "Patch DeviceCompliancePolicy",
    "Create DeviceCompliancePolicyAssignment",
    "Delete DeviceCompliancePolicy",
    "wipe ManagedDevice",
]


def credential(app=INTUNE_ADMIN):
    client_id, secret = app
    return ClientSecretCredential(
        tenant_id=TENANT,
        client_id=client_id,
        client_secret=secret,
        authority=HTTPS,  # MSAL uses f"{authority}/{tenant_id}"
        disable_instance_discovery=True,
    )


def graph(app=INTUNE_ADMIN):
    auth = AzureIdentityAuthenticationProvider(credential(app), scopes=SCOPES)
    http = GraphClientFactory.create_with_default_middleware(api_version=APIVersion.v1, host=HTTPS)
    return GraphServiceClient(request_adapter=GraphRequestAdapter(auth, http))


def run(coroutine):
    return asyncio.run(coroutine)


def server_now_to_the_second():
    """The emulator clock's "now" (what stamps events), floored to the second, as an
    OData DateTimeOffset literal."""
    now = requests.get(f"{ADMIN}/health", timeout=30).json()["now"]
    return now[:19] + "Z"


def with_client_request_id(request_id):
    """A request configuration carrying our own client-request-id (msgraph-core's
    telemetry handler only adds one for Graph's own hosts)."""
    config = RequestConfiguration()
    config.headers.add("client-request-id", str(request_id))
    return config


def events_config(**query):
    params = AuditEventsRequestBuilder.AuditEventsRequestBuilderGetQueryParameters(**query)
    return RequestConfiguration(query_parameters=params)


async def all_events(client, **query):
    page = await client.device_management.audit_events.get(request_configuration=events_config(**query))
    events = list(page.value)
    while page.odata_next_link:
        page = await client.device_management.audit_events.with_url(page.odata_next_link).get()
        events.extend(page.value)
    return events


def props(resource):
    return {p.display_name: p for p in resource.modified_properties}


@pytest.fixture(scope="module")
def workload():
    """Runs the five writes once; returns what the tests need to find their events."""
    start = server_now_to_the_second()
    ids = {name: uuid.uuid4() for name in ("create", "patch", "assign", "delete", "wipe")}
    group_id = str(uuid.uuid4())
    failures = {}

    async def main():
        client = graph()
        policies = client.device_management.device_compliance_policies

        created = await policies.post(
            Windows10CompliancePolicy(
                display_name=POLICY_NAME,
                description="Baseline",
                password_required=True,
                password_minimum_length=8,
                password_required_type=RequiredPasswordType.Alphanumeric,
                scheduled_actions_for_rule=[
                    DeviceComplianceScheduledActionForRule(
                        rule_name="PasswordRequired",
                        scheduled_action_configurations=[
                            DeviceComplianceActionItem(
                                action_type=DeviceComplianceActionType.Block,
                                grace_period_hours=0,
                                notification_template_id="",
                            )
                        ],
                    )
                ],
            ),
            request_configuration=with_client_request_id(ids["create"]),
        )
        assert isinstance(created, Windows10CompliancePolicy), type(created)
        assert created.odata_type == "#microsoft.graph.windows10CompliancePolicy"
        assert created.id and created.display_name == POLICY_NAME
        assert created.created_date_time is not None and created.last_modified_date_time is not None
        assert created.version == 1
        assert created.password_minimum_length == 8 and created.password_required is True
        policy = policies.by_device_compliance_policy_id(created.id)

        async def patch():
            # PATCH answers 204: the SDK returns None.
            patched = await policy.patch(
                Windows10CompliancePolicy(description="Baseline v2", password_minimum_length=12),
                request_configuration=with_client_request_id(ids["patch"]),
            )
            assert patched is None, patched
            got = await policy.get()
            assert (got.description, got.password_minimum_length) == ("Baseline v2", 12)

        async def assign():
            # assign answers 204: no AssignPostResponse.
            assigned = await policy.assign.post(
                AssignPostRequestBody(
                    assignments=[
                        DeviceCompliancePolicyAssignment(
                            odata_type="#microsoft.graph.deviceCompliancePolicyAssignment",
                            target=GroupAssignmentTarget(group_id=group_id),
                        )
                    ]
                ),
                request_configuration=with_client_request_id(ids["assign"]),
            )
            assert assigned is None, assigned

        async def delete():
            await policy.delete(request_configuration=with_client_request_id(ids["delete"]))
            try:
                await policy.get()
            except ODataError as error:
                assert error.response_status_code == 404, error.response_status_code
            else:
                raise AssertionError("the policy is still there after DELETE")

        async def wipe():
            devices = (await client.device_management.managed_devices.get()).value
            assert devices, "a server started with --demo-events has seeded managed devices"
            device = next((d for d in devices if d.azure_a_d_device_id), devices[0])
            wiped = await client.device_management.managed_devices.by_managed_device_id(device.id).wipe.post(
                WipePostRequestBody(keep_user_data=False),
                request_configuration=with_client_request_id(ids["wipe"]),
            )
            assert wiped is None
            return device

        # Each call is tried even when an earlier one failed, so that one broken
        # call fails its own test (and the five-event one), not all of them.
        device = None
        for name, call in (("patch", patch), ("assign", assign), ("delete", delete), ("wipe", wipe)):
            try:
                result = await call()
            except ODataError as error:
                failures[name] = (
                    f"{name}: {error.response_status_code} {error.error.code if error.error else ''}: "
                    f"{error.error.message if error.error else error}"
                )
            except AssertionError as error:
                failures[name] = f"{name}: {error}"
            else:
                if name == "wipe":
                    device = result
        return created, device

    created, device = run(main())

    async def read():
        return await all_events(graph(), filter=f"activityDateTime ge {start}", orderby=["activityDateTime asc"])

    events = run(read())
    by_correlation = {}
    for event in events:
        by_correlation.setdefault(str(event.correlation_id), []).append(event)
    return {
        "start": start,
        "policy": created,
        "group_id": group_id,
        "device": device,
        "ids": ids,
        "events": events,
        "by_correlation": by_correlation,
        "failures": failures,
    }


def one_event(workload, call):
    if call in workload["failures"]:
        pytest.fail(f"the call failed: {workload['failures'][call]}")
    found = workload["by_correlation"].get(str(workload["ids"][call]), [])
    assert len(found) == 1, (call, [(e.activity_type, e.correlation_id) for e in workload["events"]])
    return found[0]


def assert_common(event, activity_type, operation, category, component):
    assert event.activity_type == activity_type
    assert event.activity_operation_type == operation
    assert event.category == category
    assert event.component_name == component
    assert event.activity_result == "Success"
    assert event.actor.audit_actor_type == "Application"
    assert event.actor.application_id == INTUNE_ADMIN[0]
    assert event.resources, event


def assert_api_version_listed(resource):
    version = props(resource).get("DeviceManagementAPIVersion")
    assert version is not None, [p.display_name for p in resource.modified_properties]
    assert version.old_value is None and version.new_value


def test_the_intune_admin_token_carries_the_workload_roles():
    token = credential().get_token(*SCOPES).token
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["appid"] == INTUNE_ADMIN[0] and claims["tid"] == TENANT
    assert INTUNE_ADMIN_ROLES <= set(claims["roles"]), claims["roles"]


def test_the_audit_log_holds_exactly_the_five_events(workload):
    assert not workload["failures"], workload["failures"]
    events = workload["events"]
    assert sorted(e.activity_type for e in events) == sorted(EXPECTED_TYPES), [
        (e.activity_type, e.activity_date_time) for e in events
    ]
    # Written in the order the calls were made.
    assert [e.activity_type for e in events] == EXPECTED_TYPES
    # Each request wrote one event, with the request's client-request-id as correlationId.
    assert sorted(workload["by_correlation"]) == sorted(str(i) for i in workload["ids"].values())
    assert all(isinstance(e.correlation_id, uuid.UUID) for e in events)
    assert all(e.activity_date_time.tzinfo is not None for e in events)


def test_the_create_event(workload):
    policy = workload["policy"]
    event = one_event(workload, "create")
    assert_common(event, "Create DeviceCompliancePolicy", "Create", "Compliance", "DeviceCompliancePolicy")
    assert len(event.resources) == 1
    resource = event.resources[0]
    assert (resource.resource_id, resource.audit_resource_type) == (policy.id, POLICY_TYPE)
    assert resource.display_name == POLICY_NAME
    got = props(resource)
    assert all(p.old_value is None for p in resource.modified_properties), [
        (p.display_name, p.old_value) for p in resource.modified_properties
    ]
    assert got["PasswordRequired"].new_value == "True"
    assert got["PasswordMinimumLength"].new_value == "8"
    assert got["PasswordRequiredType"].new_value == "Alphanumeric"
    assert got["Description"].new_value == "Baseline"
    assert got["Id"].new_value == policy.id
    assert got["Version"].new_value == "1"
    assert "DisplayName" not in got  # it travels in resources[].displayName
    assert_api_version_listed(resource)


def test_the_patch_event_lists_only_the_changed_leaves(workload):
    policy = workload["policy"]
    event = one_event(workload, "patch")
    assert_common(event, "Patch DeviceCompliancePolicy", "Patch", "Compliance", "DeviceCompliancePolicy")
    resource = event.resources[0]
    assert (resource.resource_id, resource.audit_resource_type) == (policy.id, POLICY_TYPE)
    got = props(resource)
    assert set(got) == {"Description", "PasswordMinimumLength", "DeviceManagementAPIVersion"}, sorted(got)
    assert (got["PasswordMinimumLength"].old_value, got["PasswordMinimumLength"].new_value) == ("8", "12")
    assert (got["Description"].old_value, got["Description"].new_value) == ("Baseline", "Baseline v2")
    assert_api_version_listed(resource)


def test_the_assignment_event_has_the_policy_and_the_assignment(workload):
    policy, group_id = workload["policy"], workload["group_id"]
    event = one_event(workload, "assign")
    assert_common(
        event, "Create DeviceCompliancePolicyAssignment", "Create", "Compliance", "DeviceCompliancePolicy"
    )
    assert len(event.resources) == 2, event.resources
    parent, assignment = event.resources
    assert (parent.resource_id, parent.audit_resource_type) == (policy.id, POLICY_TYPE)
    assert parent.modified_properties == []
    assert assignment.audit_resource_type == "DeviceCompliancePolicyAssignment"
    assert assignment.display_name == "<null>"
    assert group_id in assignment.resource_id, assignment.resource_id
    got = props(assignment)
    assert (got["Target.GroupId"].old_value, got["Target.GroupId"].new_value) == (None, group_id)
    assert got["Target.Type"].new_value == "GroupAssignmentTarget"
    assert_api_version_listed(assignment)


def test_the_delete_event(workload):
    policy = workload["policy"]
    event = one_event(workload, "delete")
    assert_common(event, "Delete DeviceCompliancePolicy", "Delete", "Compliance", "DeviceCompliancePolicy")
    assert len(event.resources) == 1
    resource = event.resources[0]
    assert (resource.resource_id, resource.audit_resource_type) == (policy.id, POLICY_TYPE)
    assert resource.display_name == POLICY_NAME  # the name before deletion


def test_the_wipe_event(workload):
    device = workload["device"]
    event = one_event(workload, "wipe")
    assert_common(event, "wipe ManagedDevice", "Action", "Device", "ManagedDevices")
    assert len(event.resources) == 1
    resource = event.resources[0]
    assert (resource.resource_id, resource.audit_resource_type) == (device.id, "ManagedDevice")
    got = props(resource)
    assert "AzureADDeviceId" in got, sorted(got)
    assert got["AzureADDeviceId"].old_value is None
    if device.azure_a_d_device_id:
        assert got["AzureADDeviceId"].new_value == device.azure_a_d_device_id
    assert "KeepUserData" not in got  # an action's parameters are not recorded
    assert_api_version_listed(resource)


def test_filter_on_resource_id_finds_the_events_of_one_object(workload):
    assert not workload["failures"], workload["failures"]
    policy, device, start = workload["policy"], workload["device"], workload["start"]

    async def main():
        client = graph()
        for_policy = await all_events(
            client,
            filter=f"resources/any(r:r/resourceId eq '{policy.id}')",
            orderby=["activityDateTime asc"],
            count=True,
        )
        # Seeded events may name the same device: bound it by time too.
        for_device = await all_events(
            client,
            filter=f"activityDateTime ge {start} and resources/any(r:r/resourceId eq '{device.id}')",
        )
        return for_policy, for_device

    for_policy, for_device = run(main())
    assert [e.activity_type for e in for_policy] == EXPECTED_TYPES[:4]
    assert [e.activity_type for e in for_device] == ["wipe ManagedDevice"]
    assert for_device[0].id == one_event(workload, "wipe").id


def test_each_event_reads_back_by_id(workload):
    wanted = workload["events"]

    async def main():
        client = graph()
        return [await client.device_management.audit_events.by_audit_event_id(e.id).get() for e in wanted]

    got = run(main())
    assert [(e.id, e.activity_type, e.correlation_id) for e in got] == [
        (e.id, e.activity_type, e.correlation_id) for e in wanted
    ]
    assert all(isinstance(e.activity_date_time, datetime) for e in got)
