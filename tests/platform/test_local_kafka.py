"""The project's own Kafka (deploy/local_kafka.py) is a real broker that aiokafka can use,
and its topics, records and committed offsets survive a restart and a crash."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import RecordMetadata

from deploy.local_kafka import LocalKafka, PortInUseError, free_port

pytestmark = pytest.mark.integration

TOPIC = "usage.events"
GROUP = "aggregator"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A started broker on free ports; killed afterwards whatever the test did."""
    kafka = LocalKafka(tmp_path / "kafka", heap="256m")
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.kill()


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def partition_count(bootstrap: str, name: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [topic] = await admin.describe_topics([name])
        return len(topic["partitions"])
    finally:
        await admin.close()


async def produce(bootstrap: str, key: bytes, value: bytes) -> RecordMetadata:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        return await producer.send_and_wait(TOPIC, value, key=key)
    finally:
        await producer.stop()


def consumer(bootstrap: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )


async def consume_one_and_commit(bootstrap: str, group: str) -> ConsumerRecord:
    """Read the first record as a group member and commit the offset after it."""
    reader = consumer(bootstrap, group)
    await reader.start()
    try:
        record = await asyncio.wait_for(reader.getone(), 30)
        await reader.commit()
        return record
    finally:
        await reader.stop()


async def committed_offset(bootstrap: str, group: str, partition: int) -> int | None:
    reader = consumer(bootstrap, group)
    await reader.start()
    try:
        return await reader.committed(TopicPartition(TOPIC, partition))
    finally:
        await reader.stop()


async def write_and_commit(kafka: LocalKafka) -> tuple[int, int]:
    """Topic with 4 partitions, one keyed record, consumed and committed; returns (partition, offset)."""
    await create_topic(kafka.bootstrap_servers, TOPIC, partitions=4)
    sent = await produce(kafka.bootstrap_servers, b"customer-42", b"call-1")
    record = await consume_one_and_commit(kafka.bootstrap_servers, GROUP)
    assert (record.key, record.value) == (b"customer-42", b"call-1")
    assert (record.partition, record.offset) == (sent.partition, sent.offset)
    assert await committed_offset(kafka.bootstrap_servers, GROUP, record.partition) == record.offset + 1
    return record.partition, record.offset


async def assert_state_kept(kafka: LocalKafka, partition: int, offset: int) -> None:
    bootstrap = kafka.bootstrap_servers
    assert await partition_count(bootstrap, TOPIC) == 4
    assert await committed_offset(bootstrap, GROUP, partition) == offset + 1
    record = await consume_one_and_commit(bootstrap, "auditor")  # a fresh group reads from the start
    assert (record.key, record.value, record.partition, record.offset) == (b"customer-42", b"call-1", partition, offset)


async def test_topics_records_and_offsets_survive_restart(broker: LocalKafka) -> None:
    partition, offset = await write_and_commit(broker)
    pid = broker.pid
    broker.stop()
    assert not broker.is_running and not broker.pid_file.exists()
    broker.start()
    assert broker.pid != pid
    await assert_state_kept(broker, partition, offset)


async def test_state_survives_a_crash(broker: LocalKafka) -> None:
    partition, offset = await write_and_commit(broker)
    broker.kill()
    assert not broker.is_running
    broker.start()
    await assert_state_kept(broker, partition, offset)


def test_taken_port_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        kafka = LocalKafka(tmp_path / "kafka", port=port)
        began = time.monotonic()
        try:
            with pytest.raises(PortInUseError, match=f"127.0.0.1:{port} is already in use"):
                kafka.start(timeout=30)
        finally:
            kafka.kill()
        assert time.monotonic() - began < 5
        assert not kafka.is_running


def test_cli_start_status_stop(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "kafka", free_port()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "deploy.local_kafka", *args, "--data-dir", str(data_dir)]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)

    started = cli("start", "--port", str(port), "--controller-port", str(free_port()), "--heap", "256m")
    try:
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip() == f"127.0.0.1:{port}"
        status = cli("status")
        assert status.returncode == 0 and f"bootstrap_servers=127.0.0.1:{port}" in status.stdout
        stopped = cli("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert cli("status").returncode == 1
    finally:
        LocalKafka(data_dir, port=0, controller_port=0).kill()  # no-op unless something above failed
