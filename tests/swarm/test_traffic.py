import numpy as np

from protocols.batching import split_batch
from protocols.compression import get_codec
from protocols.messages import Kind, Message
from swarm.traffic import DeviceTraffic


def _batch(brains: list[int]) -> Message:
    tensors = ()
    for b in brains:
        tensors += get_codec("none").encode({str(b): np.full(3, b, np.float32)}).tensors
    body = {"brains": brains, "goals": [[b, b] for b in brains], "base_round": 1}
    return Message(Kind.DELTA, brains[0], round=2, body=body, tensors=tensors)


def test_device_count_does_not_depend_on_how_messages_are_packed():
    one, two = DeviceTraffic("r"), DeviceTraffic("r")
    seen1, seen2 = set(), set()
    one.count_batch(_batch([0, 1, 2, 3]), lambda kind, b: 2, seen1)
    for part in ([0, 1], [2, 3], [0, 1]):  # a host sends brains 0, 1 to two hosts: counted once
        two.count_batch(_batch(part), lambda kind, b: 2, seen2)
    assert (one.messages, one.bytes) == (two.messages, two.bytes) == (8, one.bytes)
    singles = split_batch(_batch([0, 1, 2, 3]))
    assert [m.sender for m in singles] == [0, 1, 2, 3]
    assert singles[2].body == {"goals": [2, 2], "base_round": 1}
    assert [t.name for t in singles[2].tensors] == ["2"]


def test_a_message_nobody_hears_costs_nothing():
    meter = DeviceTraffic("r")
    meter.count(Message(Kind.CLAIM, 0, body={"goals": [[1, 1]]}), audience=0)
    assert (meter.messages, meter.bytes) == (0, 0)
