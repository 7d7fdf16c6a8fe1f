with

packets as (
    select * from {{ ref('stg_bluetooth__bredr_packets') }}
),

packet_types as (
    select * from {{ ref('bluetooth_bredr_packet_types') }}
),

tabled as (
    select
        *,
        -- Wireshark's name table for the transport and rate, else the generic
        case
            when transport between 1 and 4 and rate between 0 and 2
                then
                    case transport
                        when 1 then 'sco'
                        when 2 then 'esco'
                        when 3 then 'acl'
                        when 4 then 'cpb'
                    end
                    || case when rate = 0 then '_br' else '_edr' end
            else 'any'
        end as type_table,
        -- nothing after the access code: no header, no payload
        coalesce(
            type_code is null
            and payload_bytes = 0
            and malformed_reason is null,
            false
        ) as is_id_packet
    from packets
),

named as (
    select
        tabled.*,
        coalesce(specific.packet_type, generic.packet_type) as header_type
    from tabled
    left join packet_types as specific
        on
            tabled.type_table = specific.type_table
            and tabled.type_code = specific.type_code
    left join packet_types as generic
        on
            generic.type_table = 'any'
            and tabled.type_code = generic.type_code
),

final as (
    select
        {{ star_except(['header_type']) }},
        case
            when type_code is not null then header_type
            when is_id_packet then 'ID'
        end as packet_type,
        -- CLK1 is the slot parity: masters send in even slots, slaves in odd
        case when clock is not null then (clock & 1) = 1 end as is_to_master,
        printf(
            '%02x:%02x:%02x', lap >> 16, (lap >> 8) & 255, lap & 255
        ) as lap_hex,
        case
            when nap is not null and uap is not null
                then
                    printf(
                        '%02x:%02x:%02x:%02x:%02x:%02x',
                        nap >> 8, nap & 255, uap,
                        lap >> 16, (lap >> 8) & 255, lap & 255
                    )
        end as bd_addr
    from named
)

select * from final
