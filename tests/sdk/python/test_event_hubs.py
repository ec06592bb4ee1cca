"""Live routing to an event hub, read with azure-eventhub over auditgraph's Event Hubs-compatible
AMQP endpoint (issue 17; spec live-routing.md §2 and §5.2, azure-monitor.md §7).

The monitoring app saves an Intune diagnostic setting through ARM naming an event hub (the
setting creates the hub, 4 partitions); the writer app posts audit events through Graph; an
EventHubConsumerClient reads every partition from the start and finds each event once, as a
resource-log record inside a `{"records":[…]}` message. The other tests use the endpoint as
the official SDK does against the real service: $management READ (hub and partition
properties), producer round trips (batches to a partition, keyed batches, single events) and
the starting positions a consumer can ask for, a wrong SAS key, unknown hubs and partitions,
and an exclusive (owner_level) receiver taking a partition from a lower one. Each test makes
its own hub, so no test sees another's events, through a setting of its own deleted afterwards
(two settings may not send one category through the same authorization rule).

.ci/run starts auditgraph with `--eventhubs 127.0.0.1:15672 --routing-window 1s` and names the
endpoint in AG_TEST_EVENTHUBS_CONNECTION_STRING, the official emulator's string with the port
(see test_identity.py for the other variables). Without it the module is skipped.
"""

import json
import os
import signal
import threading
import time
import uuid
from datetime import datetime

import pytest
import requests
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient
from azure.eventhub._pyamqp import _platform
from azure.eventhub.exceptions import AuthenticationError, ConnectError, EventHubError
from azure.identity import ClientSecretCredential

CONNECTION_STRING = os.environ.get("AG_TEST_EVENTHUBS_CONNECTION_STRING")
if not CONNECTION_STRING:
    pytest.skip(
        "AG_TEST_EVENTHUBS_CONNECTION_STRING is unset: start auditgraph with --eventhubs as .ci/run does",
        allow_module_level=True,
    )

# pyamqp reads every TCP option and writes it back; on loopback TCP_MAXSEG can read 32768, one
# more than the kernel accepts, and the connect fails now and then with "[Errno 22] Invalid
# argument" (docs/spikes/event-hubs-amqp.md, P5). Client side only; the protocol is untouched.
_platform.KNOWN_TCP_OPTS.discard("TCP_MAXSEG")

TENANT = "7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001"
WRITER = ("00000000-0000-0000-0000-00000000a002", "writer-secret")
MONITORING = ("00000000-0000-0000-0000-00000000a005", "monitoring-secret")
INTUNE_ADMIN = ("00000000-0000-0000-0000-00000000a004", "intune-admin-secret")
HTTPS = os.environ["AG_TEST_HTTPS_URL"].rstrip("/")
ADMIN = os.environ["AG_TEST_HTTP_URL"].rstrip("/") + "/_auditgraph"
EVENTS = f"{HTTPS}/v1.0/deviceManagement/auditEvents"
POLICIES = f"{HTTPS}/v1.0/deviceManagement/deviceCompliancePolicies"
SETTINGS = f"{HTTPS}/providers/microsoft.intune/diagnosticSettings"
ARM_API = {"api-version": "2017-04-01-preview"}
RULE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.EventHub"
    "/namespaces/auditgraph/authorizationRules/RootManageSharedAccessKey"
)
PARTITIONS = ["0", "1", "2", "3"]
WAIT = 30  # seconds any one expected delivery may take (the routing window is 1 s)


@pytest.fixture(autouse=True)
def time_limit():
    """No test may hang: SIGALRM interrupts the main thread after two minutes."""

    def expire(signum, frame):
        raise TimeoutError("the test ran for more than 120 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def token(app, scope):
    client_id, secret = app
    credential = ClientSecretCredential(
        tenant_id=TENANT, client_id=client_id, client_secret=secret, authority=HTTPS, disable_instance_discovery=True
    )
    return credential.get_token(scope).token


def text(value):
    """pyamqp hands AMQP strings and symbols over as bytes."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def save_setting(name, hub=None):
    logs = [{"category": "AuditLogs", "enabled": True}]
    body = {"properties": {"eventHubAuthorizationRuleId": RULE_ID, "logs": logs}}
    if hub:
        body["properties"]["eventHubName"] = hub
    headers = {"Authorization": f"Bearer {token(MONITORING, 'https://management.azure.com/.default')}"}
    response = requests.put(f"{SETTINGS}/{name}", params=ARM_API, json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    saved = response.json()["properties"]
    assert saved["eventHubAuthorizationRuleId"].lower() == RULE_ID.lower(), saved
    assert saved.get("eventHubName") == hub, saved
    return headers


@pytest.fixture
def hub():
    """A fresh hub: a diagnostic setting sending AuditLogs to it creates it; deleted after the test."""
    name, hub = f"sdk-eh-{uuid.uuid4().hex[:8]}", f"sdk-hub-{uuid.uuid4().hex[:8]}"
    headers = save_setting(name, hub)
    yield hub
    response = requests.delete(f"{SETTINGS}/{name}", params=ARM_API, headers=headers, timeout=30)
    assert response.status_code in (200, 204), response.text


def consumer_client(hub, connection_string=CONNECTION_STRING, **kwargs):
    return EventHubConsumerClient.from_connection_string(
        connection_string, consumer_group="$Default", eventhub_name=hub, **kwargs
    )


def producer_client(hub, connection_string=CONNECTION_STRING, **kwargs):
    return EventHubProducerClient.from_connection_string(connection_string, eventhub_name=hub, **kwargs)


class Receiver:
    """EventHubConsumerClient.receive in a thread, collecting (partition id, event) and errors
    until closed; wait() polls with a deadline."""

    def __init__(self, hub, connection_string=CONNECTION_STRING, client_kwargs=None, **receive_kwargs):
        self.events, self.errors = [], []
        self.client = consumer_client(hub, connection_string, **(client_kwargs or {}))
        receive_kwargs.update(on_event=self._on_event, on_error=self._on_error)
        self.thread = threading.Thread(target=self.client.receive, kwargs=receive_kwargs, daemon=True)
        self.thread.start()

    def _on_event(self, context, event):
        if event is not None:
            self.events.append((context.partition_id, event))

    def _on_error(self, context, error):
        self.errors.append(error)

    def wait(self, done, what, seconds=WAIT):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if done(list(self.events)):
                return list(self.events)
            time.sleep(0.1)
        pytest.fail(f"{what}: not within {seconds} s; received {len(self.events)} events, errors {self.errors!r}")

    def wait_error(self, what, seconds=WAIT):
        deadline = time.monotonic() + seconds
        while not self.errors and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.errors, f"{what}: no error within {seconds} s"
        return self.errors[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()
        self.thread.join(10)


def write_events(count):
    """Posts `count` events as the writer app; returns them as Graph answered, by id."""
    headers = {"Authorization": f"Bearer {token(WRITER, 'https://graph.microsoft.com/.default')}"}
    written = {}
    for i in range(count):
        body = {
            "displayName": f"Event hub routing {uuid.uuid4().hex[:8]} #{i}",
            "category": "Application",
            "activityType": "Delete MobileApp",
            "activityOperationType": "Delete",
            "activityResult": "Success",
            "correlationId": str(uuid.uuid4()),
        }
        response = requests.post(EVENTS, json=body, headers=headers, timeout=30)
        assert response.status_code == 201, response.text
        written[response.json()["id"]] = response.json()
    return written


def records_of(events):
    return [record for _, event in events for record in event.body_as_json()["records"]]


def test_a_diagnostic_setting_delivers_the_audit_events_to_its_hub(hub):
    written = write_events(3)
    with Receiver(hub, starting_position="-1") as receiver:  # every partition, from the start
        events = receiver.wait(lambda evs: len(records_of(evs)) >= 3, "the 3 records")
    for partition, event in events:
        assert partition in PARTITIONS
        body = json.loads(event.body_as_str(encoding="UTF-8"))
        assert list(body) == ["records"] and body["records"], body
        assert len(event.body_as_str().encode("utf-8")) <= 256 * 1024
        assert isinstance(event.sequence_number, int) and event.sequence_number >= 0, event.sequence_number
        assert isinstance(event.offset, str), event.offset
        assert isinstance(event.enqueued_time, datetime), event.enqueued_time
        assert event.partition_key is None
    records = records_of(events)
    ids = [record["properties"]["AuditEventId"] for record in records]
    assert sorted(ids) == sorted(written), f"delivered {ids}, written {sorted(written)}"
    for record in records:
        event = written[record["properties"]["AuditEventId"]]
        assert record["category"] == "AuditLogs", record
        assert record["time"] == event["activityDateTime"], (record["time"], event["activityDateTime"])
        assert record["tenantId"].lower() == TENANT, record
        assert record["operationName"] == event["displayName"], record
        assert record["correlationId"] == event["correlationId"], record
        assert record["resultType"] == "Success", record
    # After a flush nothing is pending: the hub holds exactly the messages read.
    assert requests.post(f"{ADMIN}/routing/flush", timeout=120).status_code == 200
    with consumer_client(hub) as client:
        stored = sum(client.get_partition_properties(p)["last_enqueued_sequence_number"] + 1 for p in PARTITIONS)
    assert stored == len(events), f"the hub holds {stored} messages, {len(events)} were read"


def test_a_listening_consumer_gets_the_events_of_a_workload_change(hub):
    """Creating and deleting a compliance policy (test_workloads.py) writes two audit events."""
    headers = {"Authorization": f"Bearer {token(INTUNE_ADMIN, 'https://graph.microsoft.com/.default')}"}
    policy = {
        "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
        "displayName": f"SDK suite - event hub {uuid.uuid4().hex[:8]}",
        "passwordRequired": True,
        "scheduledActionsForRule": [
            {"ruleName": "PasswordRequired", "scheduledActionConfigurations": [{"actionType": "block"}]}
        ],
    }
    with Receiver(hub, starting_position="-1") as receiver:
        created = requests.post(POLICIES, json=policy, headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        policy_id = created.json()["id"]
        deleted = requests.delete(f"{POLICIES}/{policy_id}", headers=headers, timeout=30)
        assert deleted.status_code == 204, deleted.text
        assert requests.post(f"{ADMIN}/routing/flush", timeout=120).status_code == 200
        events = receiver.wait(lambda evs: len(records_of(evs)) >= 2, "the 2 records")
    # Exactly the events Graph lists for the policy.
    query = {"$filter": f"resources/any(r:r/resourceId eq '{policy_id}')"}
    listed = requests.get(EVENTS, params=query, headers=headers, timeout=30)
    assert listed.status_code == 200, listed.text
    assert sorted(e["id"] for e in listed.json()["value"]) == sorted(
        r["properties"]["AuditEventId"] for r in records_of(events)
    ), (listed.json()["value"], records_of(events))
    assert all(policy_id in r["properties"]["TargetObjectIds"] for r in records_of(events)), records_of(events)


def test_a_setting_without_a_hub_name_creates_insights_logs_auditlogs():
    name = f"sdk-eh-{uuid.uuid4().hex[:8]}"
    headers = save_setting(name)
    try:
        with consumer_client("insights-logs-auditlogs") as client:
            properties = client.get_eventhub_properties()
        assert properties["eventhub_name"] == "insights-logs-auditlogs", properties
        assert properties["partition_ids"] == PARTITIONS, properties
    finally:
        requests.delete(f"{SETTINGS}/{name}", params=ARM_API, headers=headers, timeout=30)


def test_hub_and_partition_properties(hub):
    with consumer_client(hub) as client:
        properties = client.get_eventhub_properties()
        empty = client.get_partition_properties("1")
    assert properties["eventhub_name"] == hub, properties
    assert properties["partition_ids"] == PARTITIONS, properties
    assert isinstance(properties["created_at"], datetime), properties
    assert empty["eventhub_name"] == hub and empty["id"] == "1", empty
    assert empty["is_empty"] is True and empty["last_enqueued_sequence_number"] == -1, empty
    assert isinstance(empty["last_enqueued_offset"], str), empty

    with producer_client(hub) as producer:
        batch = producer.create_batch(partition_id="1")
        for i in range(3):
            batch.add(EventData(f"properties #{i}"))
        producer.send_batch(batch)
    with Receiver(hub, partition_id="1", starting_position="-1") as receiver:
        events = receiver.wait(lambda evs: len(evs) >= 3, "the 3 events")
    with consumer_client(hub) as client:
        after = client.get_partition_properties("1")
    last = events[-1][1]
    assert after["is_empty"] is False, after
    assert after["beginning_sequence_number"] == 0, after
    assert after["last_enqueued_sequence_number"] == last.sequence_number == 2, after
    assert after["last_enqueued_offset"] == last.offset, (after, last.offset)
    assert after["last_enqueued_time_utc"] == last.enqueued_time, (after, last.enqueued_time)


def produced(run, body, n):
    """An event carrying application properties: this test's run id and a number."""
    event = EventData(body)
    event.properties = {"run": run, "n": n}
    return event


def ours(events, run):
    """This test's events, in the order received (per partition, the order stored)."""
    return [(p, e) for p, e in events if text((e.properties or {}).get(b"run")) == run]


def test_producer_round_trip_to_a_partition_with_a_key_and_to_the_hub(hub):
    run = uuid.uuid4().hex
    with producer_client(hub) as producer:
        batch = producer.create_batch(partition_id="2")
        for i in range(3):
            batch.add(produced(run, f"to partition 2 #{i}", i))
        producer.send_batch(batch)
        keyed = producer.create_batch(partition_key="device-42")
        for i in range(2):
            keyed.add(produced(run, f"keyed #{i}", i))
        producer.send_batch(keyed)
        producer.send_event(produced(run, json.dumps({"single": True}), 0))
    with Receiver(hub, starting_position="-1") as receiver:
        events = ours(receiver.wait(lambda evs: len(ours(evs, run)) >= 6, "the 6 events"), run)
    assert len(events) == 6, [e.body_as_str() for _, e in events]

    to_two = [(p, e) for p, e in events if e.body_as_str().startswith("to partition 2")]
    assert [p for p, _ in to_two] == ["2"] * 3
    assert [e.body_as_str() for _, e in to_two] == [f"to partition 2 #{i}" for i in range(3)]
    assert [text(e.properties[b"n"]) for _, e in to_two] == [0, 1, 2]
    assert all(e.partition_key is None for _, e in to_two)

    keyed = [(p, e) for p, e in events if e.body_as_str().startswith("keyed")]
    assert [e.body_as_str() for _, e in keyed] == ["keyed #0", "keyed #1"]
    assert keyed[0][0] == keyed[1][0] and keyed[0][0] in PARTITIONS, "one key, one partition"
    assert [text(e.partition_key) for _, e in keyed] == ["device-42"] * 2

    [(_, single)] = [(p, e) for p, e in events if e.body_as_str().startswith("{")]
    assert single.body_as_json() == {"single": True}

    for partition in PARTITIONS:
        numbers = [e.sequence_number for p, e in events if p == partition]
        assert numbers == sorted(set(numbers)), (partition, numbers)
    assert all(isinstance(e.offset, str) and e.offset for _, e in events)
    assert all(isinstance(e.sequence_number, int) for _, e in events)


def read_partition(hub, run, count, **position):
    """The bodies of this run's events on partition 1 from a starting position, once `count` arrived."""
    with Receiver(hub, partition_id="1", **position) as receiver:
        events = ours(receiver.wait(lambda evs: len(ours(evs, run)) >= count, f"{count} events {position}"), run)
    return [e.body_as_str() for _, e in events]


def produce_a_then_b(hub, run):
    """a0..a2 then, once they are read back, b0 and b1, on partition 1; returns a's events."""
    with producer_client(hub) as producer:
        batch = producer.create_batch(partition_id="1")
        for i in range(3):
            batch.add(produced(run, f"a{i}", i))
        producer.send_batch(batch)
        with Receiver(hub, partition_id="1", starting_position="-1") as receiver:
            a = [e for _, e in receiver.wait(lambda evs: len(evs) >= 3, "a0..a2")]
        batch = producer.create_batch(partition_id="1")
        for i in range(2):
            batch.add(produced(run, f"b{i}", i))
        producer.send_batch(batch)
    assert [e.sequence_number for e in a] == [0, 1, 2]
    return a


def test_starting_from_a_sequence_number_or_an_offset(hub):
    run = uuid.uuid4().hex
    a = produce_a_then_b(hub, run)
    everything = ["a0", "a1", "a2", "b0", "b1"]
    assert read_partition(hub, run, 5, starting_position="-1") == everything
    assert read_partition(hub, run, 4, starting_position=1, starting_position_inclusive=True) == everything[1:]
    assert read_partition(hub, run, 3, starting_position=1) == everything[2:]
    assert read_partition(hub, run, 4, starting_position=a[0].offset) == everything[1:]
    inclusive = read_partition(hub, run, 5, starting_position=a[0].offset, starting_position_inclusive=True)
    assert inclusive == everything


def test_starting_from_an_enqueued_time(hub):
    run = uuid.uuid4().hex
    a = produce_a_then_b(hub, run)
    # The SDK sends a datetime as unix ms; enqueued times are whole ms (x-opt-enqueued-time), so
    # "after a2's enqueued_time" is after a2, and "at or after" starts at a2 (or its millisecond).
    assert read_partition(hub, run, 2, starting_position=a[2].enqueued_time) == ["b0", "b1"]
    inclusive = read_partition(hub, run, 3, starting_position=a[2].enqueued_time, starting_position_inclusive=True)
    assert inclusive[-3:] == ["a2", "b0", "b1"], inclusive


def test_latest_sees_only_events_produced_after_it_attached(hub):
    run = uuid.uuid4().hex
    with producer_client(hub) as producer:
        for n in range(2):
            producer.send_event(produced(run, f"old {n}", n), partition_id="0")
        with Receiver(hub, partition_id="0", starting_position="@latest") as receiver:
            # Nothing arrives before the link is attached: send one new event at a time until one does.
            sent, deadline = 0, time.monotonic() + WAIT
            while not ours(receiver.events, run):
                assert time.monotonic() < deadline, f"nothing arrived at @latest; errors {receiver.errors!r}"
                producer.send_event(produced(run, f"new {sent}", sent), partition_id="0")
                sent += 1
                pause = time.monotonic() + 0.5
                while not ours(receiver.events, run) and time.monotonic() < pause:
                    time.sleep(0.05)
            first = int(ours(receiver.events, run)[0][1].body_as_str().split()[1])
            for n in range(sent, sent + 2):
                producer.send_event(produced(run, f"new {n}", n), partition_id="0")
            expected = sent + 2 - first
            events = ours(receiver.wait(lambda evs: len(ours(evs, run)) >= expected, "the new events"), run)
    # No old event, and every new one from the first received on, in order.
    assert [e.body_as_str() for _, e in events] == [f"new {n}" for n in range(first, sent + 2)]


WRONG_KEY = CONNECTION_STRING.replace("SharedAccessKey=", "SharedAccessKey=not-the-key-", 1)


def test_a_wrong_key_is_refused_by_cbs(hub):
    assert WRONG_KEY != CONNECTION_STRING
    with consumer_client(hub, WRONG_KEY, retry_total=0) as client:
        with pytest.raises(AuthenticationError):
            client.get_eventhub_properties()
    with producer_client(hub, WRONG_KEY, retry_total=0) as producer:
        with pytest.raises(AuthenticationError):
            producer.send_event(EventData("refused"), partition_id="0")
    with Receiver(hub, WRONG_KEY, {"retry_total": 0}, partition_id="0", starting_position="-1") as receiver:
        error = receiver.wait_error("a receiver with the wrong key")
    assert isinstance(error, AuthenticationError), repr(error)


def test_an_unknown_hub_is_not_found():
    hub = f"no-such-hub-{uuid.uuid4().hex[:8]}"
    with consumer_client(hub, retry_total=0) as client:
        with pytest.raises(EventHubError) as raised:
            client.get_eventhub_properties()
    assert not isinstance(raised.value, AuthenticationError), repr(raised.value)
    assert "404" in str(raised.value) or "not-found" in str(raised.value), repr(raised.value)
    with producer_client(hub, retry_total=0) as producer:
        with pytest.raises(EventHubError):
            producer.send_event(EventData("nowhere"))
    with Receiver(hub, client_kwargs={"retry_total": 0}, starting_position="-1") as receiver:
        error = receiver.wait_error("a receiver on an unknown hub")
    assert isinstance(error, EventHubError) and not isinstance(error, AuthenticationError), repr(error)


def test_a_partition_out_of_range(hub):
    with consumer_client(hub, retry_total=0) as client:
        assert client.get_partition_properties("3")["id"] == "3"  # the last one exists
        with pytest.raises(EventHubError) as raised:
            client.get_partition_properties("9")
    assert "404" in str(raised.value) or "not-found" in str(raised.value), repr(raised.value)
    # The SDK checks partition ids against the hub's (from $management READ) before attaching.
    with producer_client(hub, retry_total=0) as producer:
        with pytest.raises(ConnectError, match="Invalid partition 9"):
            producer.send_event(EventData("out of range"), partition_id="9")
    with Receiver(hub, client_kwargs={"retry_total": 0}, partition_id="9", starting_position="-1") as receiver:
        error = receiver.wait_error("a receiver on partition 9")
    assert isinstance(error, ValueError) and "['0', '1', '2', '3']" in str(error), repr(error)


def test_a_higher_owner_level_steals_the_partition(hub):
    run = uuid.uuid4().hex
    with producer_client(hub) as producer:
        producer.send_event(produced(run, "before", 0), partition_id="0")
        with Receiver(hub, partition_id="0", starting_position="-1", owner_level=1) as low:
            low.wait(lambda evs: ours(evs, run), "the first event at owner_level 1")
            with Receiver(hub, partition_id="0", starting_position="-1", owner_level=2) as high:
                error = low.wait_error("the owner_level 1 receiver once owner_level 2 attached")
                assert isinstance(error, EventHubError) and "stolen" in str(error).lower(), repr(error)
                producer.send_event(produced(run, "after", 1), partition_id="0")
                events = high.wait(lambda evs: len(ours(evs, run)) >= 2, "both events at owner_level 2")
                assert [e.body_as_str() for _, e in ours(events, run)] == ["before", "after"]
            assert [e.body_as_str() for _, e in ours(low.events, run)] == ["before"], "the stolen receiver read on"
