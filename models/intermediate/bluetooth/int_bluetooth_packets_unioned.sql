with

bredr_packets as (
    select * from {{ ref('int_bluetooth_bredr_packets_typed') }}
),

le_packets as (
    select * from {{ ref('int_bluetooth_le_packets_typed') }}
),

unioned as (
    select
        capture_id,
        source_file,
        frame_number,
        'bredr' as technology,
        captured_at,
        lap_hex as device_id,
        coalesce(packet_type, 'unknown') as packet_type,
        is_id_packet,
        is_crc_valid is not null as is_crc_checked,
        is_crc_valid,
        signal_dbm
    from bredr_packets
    union all
    select
        capture_id,
        source_file,
        frame_number,
        'le' as technology,
        captured_at,
        advertiser_addr as device_id,
        coalesce(pdu_type, 'unknown') as packet_type,
        false as is_id_packet,
        coalesce(is_crc_checked, false) as is_crc_checked,
        case when is_crc_checked then is_crc_valid end as is_crc_valid,
        signal_dbm
    from le_packets
),

final as (
    select
        *,
        date_trunc('second', captured_at)::timestamp as second_at
    from unioned
)

select * from final
