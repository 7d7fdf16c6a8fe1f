with

packets as (
    select * from {{ ref('int_bluetooth_packets_unioned') }}
    where device_id is not null
),

bredr_packets as (
    select * from {{ ref('int_bluetooth_bredr_packets_typed') }}
),

confirmed as (
    select * from {{ ref('int_bluetooth_devices_confirmed') }}
),

le_packets as (
    select * from {{ ref('int_bluetooth_le_packets_typed') }}
    where advertiser_addr is not null
),

counted as (
    select
        technology,
        device_id,
        min(captured_at) as first_seen_at,
        max(captured_at) as last_seen_at,
        count(*) as packets,
        count(*) filter (where not is_id_packet) as non_id_packets,
        {{ sorted_set_agg('packet_type', 'not is_id_packet') }} as packet_types,
        count(distinct capture_id) as capture_files
    from packets
    group by all
),

bredr_addresses as (
    select
        'bredr' as technology,
        lap_hex as device_id,
        any_value(lap) as lap,
        mode(uap) as uap,  -- the value seen most often (NULLs ignored)
        mode(nap) as nap,
        null::boolean as is_random_address
    from bredr_packets
    group by all
),

le_addresses as (
    select
        'le' as technology,
        advertiser_addr as device_id,
        null::integer as lap,
        null::integer as uap,
        null::integer as nap,
        max_by(is_advertiser_addr_random, frame_number) as is_random_address
    from le_packets
    group by all
),

addresses as (
    select * from bredr_addresses
    union all
    select * from le_addresses
),

final as (
    select
        counted.technology::string as technology,
        counted.device_id::string as device_id,
        addresses.lap::integer as lap,
        addresses.uap::integer as uap,
        addresses.nap::integer as nap,
        case
            when counted.technology = 'le' then counted.device_id
            when addresses.uap is not null and addresses.nap is not null
                then printf(
                    '%02x:%02x:%02x:', addresses.nap >> 8, addresses.nap & 255,
                    addresses.uap
                ) || counted.device_id
        end::string as bd_addr,
        addresses.is_random_address::boolean as is_random_address,
        counted.first_seen_at::{{ type_timestamp_ns() }} as first_seen_at,
        counted.last_seen_at::{{ type_timestamp_ns() }} as last_seen_at,
        counted.packets::bigint as packets,
        counted.non_id_packets::bigint as non_id_packets,
        (counted.packets > 1)::boolean as is_seen_more_than_once,
        counted.packet_types::{{ type_string_list() }} as packet_types,
        counted.capture_files::bigint as capture_files,
        confirmed.crc_checked_packets::bigint as crc_checked_packets,
        confirmed.crc_valid_packets::bigint as crc_valid_packets,
        confirmed.is_device::boolean as is_device
    from counted
    inner join confirmed
        on
            counted.technology = confirmed.technology
            and counted.device_id = confirmed.device_id
    left join addresses
        on
            counted.technology = addresses.technology
            and counted.device_id = addresses.device_id
)

select * from final
