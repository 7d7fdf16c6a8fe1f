with

le_packets as (
    select * from {{ ref('int_bluetooth_le_packets_typed') }}
    where is_advertising
),

counted as (
    select
        channel_index,
        pdu_type,
        count(*) as packets,
        count(distinct advertiser_addr) as advertisers,
        count(*) filter (where is_crc_checked) as crc_checked_packets,
        count(*) filter (where is_crc_valid) as crc_valid_packets,
        avg(signal_dbm) as avg_signal_dbm,
        min(captured_at) as first_seen_at,
        max(captured_at) as last_seen_at
    from le_packets
    group by all
),

final as (
    select
        channel_index::integer as channel_index,
        pdu_type::string as pdu_type,
        packets::bigint as packets,
        advertisers::bigint as advertisers,
        crc_checked_packets::bigint as crc_checked_packets,
        crc_valid_packets::bigint as crc_valid_packets,
        avg_signal_dbm::double as avg_signal_dbm,
        first_seen_at::{{ type_timestamp_ns() }} as first_seen_at,
        last_seen_at::{{ type_timestamp_ns() }} as last_seen_at
    from counted
)

select * from final
