with

packets as (
    select * from {{ ref('stg_bluetooth__le_packets') }}
),

pdu_types as (
    select * from {{ ref('bluetooth_le_pdu_types') }}
),

control_opcodes as (
    select * from {{ ref('bluetooth_le_control_opcodes') }}
),

named as (
    select
        packets.*,
        packets.access_address = 2391391958 as is_advertising,  -- 0x8e89bed6
        -- RF channel k (2402 + 2k MHz) to the link layer's channel index
        case
            when packets.rf_channel = 0 then 37
            when packets.rf_channel = 12 then 38
            when packets.rf_channel = 39 then 39
            when packets.rf_channel between 1 and 11
                then packets.rf_channel - 1
            when packets.rf_channel between 13 and 38
                then packets.rf_channel - 2
        end as channel_index,
        case
            when packets.pdu_type_code is not null
                then coalesce(pdu_types.pdu_type, 'RESERVED')
            when packets.llid = 3
                then coalesce(control_opcodes.control_pdu, 'LL_CONTROL')
            when packets.llid = 2 then 'LL_DATA_START'
            when packets.llid = 1 and packets.pdu_bytes = 0 then 'LL_EMPTY'
            when packets.llid = 1 then 'LL_DATA_CONTINUATION'
            when packets.llid = 0 then 'RESERVED'
        end as pdu_type
    from packets
    left join pdu_types
        on packets.pdu_type_code = pdu_types.pdu_type_code
    left join control_opcodes
        on packets.control_opcode = control_opcodes.control_opcode
),

final as (
    select * from named
)

select * from final
