"""The Kafka API table: which api_keys exist, their last version, when they became flexible.

Kept in Python because header parsing needs it at import time; a pytest checks it against the
seed ``seeds/kafka_api_keys.csv`` (the same apache/kafka commit), so the two cannot drift.
"""

from __future__ import annotations

import numpy as np

# key -> (API name, highest valid version, first flexible version or None), from apache/kafka
# commit 1eb7644 (FORMATS.md §4). Newer brokers add versions; only the strict heuristic cares.
KAFKA_APIS: dict[int, tuple[str, int, int | None]] = {
    0: ("Produce", 11, 9),
    1: ("Fetch", 17, 12),
    2: ("ListOffsets", 10, 6),
    3: ("Metadata", 12, 9),
    4: ("LeaderAndIsr", 7, 4),
    5: ("StopReplica", 4, 2),
    6: ("UpdateMetadata", 8, 6),
    7: ("ControlledShutdown", 3, 3),
    8: ("OffsetCommit", 9, 8),
    9: ("OffsetFetch", 9, 6),
    10: ("FindCoordinator", 6, 3),
    11: ("JoinGroup", 9, 6),
    12: ("Heartbeat", 4, 4),
    13: ("LeaveGroup", 5, 4),
    14: ("SyncGroup", 5, 4),
    15: ("DescribeGroups", 5, 5),
    16: ("ListGroups", 5, 3),
    17: ("SaslHandshake", 1, None),
    18: ("ApiVersions", 4, 3),
    19: ("CreateTopics", 7, 5),
    20: ("DeleteTopics", 6, 4),
    21: ("DeleteRecords", 2, 2),
    22: ("InitProducerId", 5, 2),
    23: ("OffsetForLeaderEpoch", 4, 4),
    24: ("AddPartitionsToTxn", 5, 3),
    25: ("AddOffsetsToTxn", 4, 3),
    26: ("EndTxn", 5, 3),
    27: ("WriteTxnMarkers", 1, 1),
    28: ("TxnOffsetCommit", 4, 3),
    29: ("DescribeAcls", 3, 2),
    30: ("CreateAcls", 3, 2),
    31: ("DeleteAcls", 3, 2),
    32: ("DescribeConfigs", 4, 4),
    33: ("AlterConfigs", 2, 2),
    34: ("AlterReplicaLogDirs", 2, 2),
    35: ("DescribeLogDirs", 4, 2),
    36: ("SaslAuthenticate", 2, 2),
    37: ("CreatePartitions", 3, 2),
    38: ("CreateDelegationToken", 3, 2),
    39: ("RenewDelegationToken", 2, 2),
    40: ("ExpireDelegationToken", 2, 2),
    41: ("DescribeDelegationToken", 3, 2),
    42: ("DeleteGroups", 2, 2),
    43: ("ElectLeaders", 2, 2),
    44: ("IncrementalAlterConfigs", 1, 1),
    45: ("AlterPartitionReassignments", 0, 0),
    46: ("ListPartitionReassignments", 0, 0),
    47: ("OffsetDelete", 0, None),
    48: ("DescribeClientQuotas", 1, 1),
    49: ("AlterClientQuotas", 1, 1),
    50: ("DescribeUserScramCredentials", 0, 0),
    51: ("AlterUserScramCredentials", 0, 0),
    52: ("Vote", 1, 0),
    53: ("BeginQuorumEpoch", 1, 1),
    54: ("EndQuorumEpoch", 1, 1),
    55: ("DescribeQuorum", 2, 0),
    56: ("AlterPartition", 3, 0),
    57: ("UpdateFeatures", 2, 0),
    58: ("Envelope", 0, 0),
    59: ("FetchSnapshot", 1, 0),
    60: ("DescribeCluster", 1, 0),
    61: ("DescribeProducers", 0, 0),
    62: ("BrokerRegistration", 4, 0),
    63: ("BrokerHeartbeat", 1, 0),
    64: ("UnregisterBroker", 0, 0),
    65: ("DescribeTransactions", 0, 0),
    66: ("ListTransactions", 1, 0),
    67: ("AllocateProducerIds", 0, 0),
    68: ("ConsumerGroupHeartbeat", 1, 0),
    69: ("ConsumerGroupDescribe", 0, 0),
    70: ("ControllerRegistration", 0, 0),
    71: ("GetTelemetrySubscriptions", 0, 0),
    72: ("PushTelemetry", 0, 0),
    73: ("AssignReplicasToDirs", 0, 0),
    74: ("ListClientMetricsResources", 0, 0),
    75: ("DescribeTopicPartitions", 0, 0),
    76: ("ShareGroupHeartbeat", 0, 0),
    77: ("ShareGroupDescribe", 0, 0),
    78: ("ShareFetch", 0, 0),
    79: ("ShareAcknowledge", 0, 0),
    80: ("AddRaftVoter", 0, 0),
    81: ("RemoveRaftVoter", 0, 0),
    82: ("UpdateRaftVoter", 0, 0),
    83: ("InitializeShareGroupState", 0, 0),
    84: ("ReadShareGroupState", 0, 0),
    85: ("WriteShareGroupState", 0, 0),
    86: ("DeleteShareGroupState", 0, 0),
    87: ("ReadShareGroupStateSummary", 0, 0),
}
API_VERSIONS_KEY = 18

# highest known version per api_key, -1 for unknown keys (the last slot catches key >= 88)
MAX_VERSION = np.full(max(KAFKA_APIS) + 2, -1, np.int64)
for _key, (_, _max, _) in KAFKA_APIS.items():
    MAX_VERSION[_key] = _max


def request_header_version(api_key: int, api_version: int) -> int | None:
    """0, 1 or 2 (RequestHeader.json); None for an api_key we do not know."""
    api = KAFKA_APIS.get(api_key)
    if api is None:
        return None
    if api_key == 7 and api_version == 0:  # ControlledShutdown v0 predates client_id
        return 0
    flexible_from = api[2]
    return 2 if flexible_from is not None and api_version >= flexible_from else 1


def response_header_version(api_key: int, api_version: int) -> int | None:
    api = KAFKA_APIS.get(api_key)
    if api is None:
        return None
    if api_key == API_VERSIONS_KEY:  # KIP-511: always v0 so any client can read it
        return 0
    return 1 if api[2] is not None and api_version >= api[2] else 0


# Where a response body holds one top-level error_code (INT16), by api_key: a list of
# (first version, offset in the body after the response header), each row holding up to the
# next one's first version, offset None where there is none at a fixed place (per-topic or
# per-partition codes only, or a variable-length field before it). 0: error_code comes first;
# 4: after throttle_time_ms. From the *Response.json schemas of the commit above; an
# api_key missing here, or a version above KAFKA_APIS' highest, has no error_code we read.
ERROR_CODE_AT: dict[int, list[tuple[int, int | None]]] = {
    1: [(0, None), (7, 4)],  # Fetch v7+: throttle, error_code (the fetch session's), ...
    7: [(0, 0)],  # ControlledShutdown
    10: [(0, 0), (1, 4), (4, None)],  # FindCoordinator v4+: per-key coordinators
    11: [(0, 0), (2, 4)],  # JoinGroup
    12: [(0, 0), (1, 4)],  # Heartbeat
    13: [(0, 0), (1, 4)],  # LeaveGroup
    14: [(0, 0), (1, 4)],  # SyncGroup
    16: [(0, 0), (1, 4)],  # ListGroups
    17: [(0, 0)],  # SaslHandshake
    18: [(0, 0)],  # ApiVersions: error_code first in every version
    22: [(0, 4)],  # InitProducerId
    25: [(0, 4)],  # AddOffsetsToTxn
    26: [(0, 4)],  # EndTxn
    36: [(0, 0)],  # SaslAuthenticate
    60: [(0, 4)],  # DescribeCluster
    68: [(0, 4)],  # ConsumerGroupHeartbeat
}
NO_ERROR_CODE = -1
# ERROR_CODE_OFFSET[key, version]: the offset, or NO_ERROR_CODE (the last row: key >= 88)
ERROR_CODE_OFFSET = np.full(
    (max(KAFKA_APIS) + 2, max(v for _, v, _ in KAFKA_APIS.values()) + 1), NO_ERROR_CODE, np.int64
)
for _key, _rows in ERROR_CODE_AT.items():
    for _i, (_from, _at) in enumerate(_rows):
        _to = _rows[_i + 1][0] if _i + 1 < len(_rows) else KAFKA_APIS[_key][1] + 1
        ERROR_CODE_OFFSET[_key, _from:_to] = NO_ERROR_CODE if _at is None else _at


def error_code_offset(api_key: int, api_version: int) -> int | None:
    """Where the response body of this api_key/version holds its error_code; None: nowhere
    fixed (or an api or version we do not know)."""
    if not (
        0 <= api_key < len(ERROR_CODE_OFFSET) - 1 and 0 <= api_version <= KAFKA_APIS[api_key][1]
    ):
        return None
    at = int(ERROR_CODE_OFFSET[api_key, api_version])
    return None if at == NO_ERROR_CODE else at
