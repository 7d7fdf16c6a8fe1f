-- Bitcoin P2P messages seen on the wire with the pure ACKs sent back for them:
-- an ACK-only packet is attributed to the latest message of the opposite
-- direction of its connection that had begun before it.
with

messages as (
    select * from {{ ref('stg_pcap__bitcoin_messages') }}
),

packets as (
    select * from {{ ref('stg_pcap__packets') }}
),

endpoints as (
    select
        capture_id,
        orig_addr,
        orig_port,
        resp_addr,
        resp_port,
        min(first_ts_ns) as first_ts_ns
    from messages
    group by all
),

pure_acks as (
    select
        capture_id,
        ts_ns,
        src_addr,
        src_port,
        dst_addr,
        dst_port,
        ip_bytes
    from packets
    where
        ip_proto = 6
        and payload_bytes = 0
        and is_ack
        and not (is_syn or is_fin or is_rst)
),

-- an ACK from resp acknowledges what orig sent (is_from_orig: the side whose
-- messages it acknowledges), and the other way round
acks as (
    select
        pure_acks.capture_id,
        pure_acks.ts_ns,
        pure_acks.ip_bytes,
        endpoints.orig_addr,
        endpoints.orig_port,
        endpoints.resp_addr,
        endpoints.resp_port,
        true as is_from_orig
    from pure_acks
    inner join endpoints
        on
            pure_acks.capture_id = endpoints.capture_id
            and pure_acks.src_addr = endpoints.resp_addr
            and pure_acks.src_port = endpoints.resp_port
            and pure_acks.dst_addr = endpoints.orig_addr
            and pure_acks.dst_port = endpoints.orig_port
    where pure_acks.ts_ns >= endpoints.first_ts_ns
    union all
    select
        pure_acks.capture_id,
        pure_acks.ts_ns,
        pure_acks.ip_bytes,
        endpoints.orig_addr,
        endpoints.orig_port,
        endpoints.resp_addr,
        endpoints.resp_port,
        false as is_from_orig
    from pure_acks
    inner join endpoints
        on
            pure_acks.capture_id = endpoints.capture_id
            and pure_acks.src_addr = endpoints.orig_addr
            and pure_acks.src_port = endpoints.orig_port
            and pure_acks.dst_addr = endpoints.resp_addr
            and pure_acks.dst_port = endpoints.resp_port
    where pure_acks.ts_ns >= endpoints.first_ts_ns
),

-- where several messages began at the same time (in one packet), an ACK
-- after them goes to the last one of the stream: one candidate per time
message_starts as (
    select
        capture_id,
        orig_addr,
        orig_port,
        resp_addr,
        resp_port,
        is_from_orig,
        first_ts_ns,
        stream_id,
        message_index
    from messages
    qualify row_number() over (
        partition by
            capture_id, orig_addr, orig_port, resp_addr, resp_port,
            is_from_orig, first_ts_ns
        order by stream_id desc, message_index desc
    ) = 1
),

-- each ACK goes to the latest message of its connection and direction that
-- had begun before it
attributed as (
    {{ asof_join(
        'acks', 'message_starts',
        keys=[
            'capture_id', 'orig_addr', 'orig_port', 'resp_addr', 'resp_port',
            'is_from_orig',
        ],
        left_at='ts_ns',
        right_at='first_ts_ns',
        left_columns=['capture_id', 'is_from_orig', 'ip_bytes'],
        right_columns=['stream_id', 'message_index'],
    ) }}
),

per_message as (
    select
        capture_id,
        stream_id,
        is_from_orig,
        message_index,
        count(*) as ack_packets,
        sum(ip_bytes) as ack_ip_bytes
    from attributed
    group by all
),

final as (
    select
        messages.*,
        coalesce(per_message.ack_packets, 0) as ack_packets,
        coalesce(per_message.ack_ip_bytes, 0) as ack_ip_bytes,
        messages.ip_bytes + coalesce(per_message.ack_ip_bytes, 0) as tcpip_bytes
    from messages
    left join per_message
        on
            messages.capture_id = per_message.capture_id
            and messages.stream_id = per_message.stream_id
            and messages.is_from_orig = per_message.is_from_orig
            and messages.message_index = per_message.message_index
)

select * from final
