with

source as (
    {{ raw_rows('bluetooth', 'bluetooth_le_packets') }}
),

final as (
    select
        {{ capture_id() }} as capture_id,
        coalesce(_node, 'default') as node_id,
        _source_file as source_file,
        frame_number,
        captured_at,
        ts_ns,
        link_type::integer as link_type,
        rf_channel::integer as rf_channel,
        signal_dbm::integer as signal_dbm,
        noise_dbm::integer as noise_dbm,
        rssi_min::integer as rssi_min,
        rssi_max::integer as rssi_max,
        rssi_avg::integer as rssi_avg,
        rssi_count::integer as rssi_count,
        access_address::bigint as access_address,
        pdu_type_code::integer as pdu_type_code,
        ch_sel as is_ch_sel,
        tx_add as is_tx_add_random,
        rx_add as is_rx_add_random,
        llid::integer as llid,
        nesn as is_nesn,
        sn as is_sn,
        md as is_more_data,
        pdu_len::integer as pdu_bytes,
        control_opcode::integer as control_opcode,
        advertiser_addr,
        advertiser_addr_random as is_advertiser_addr_random,
        target_addr,
        target_addr_random as is_target_addr_random,
        connection_access_address::bigint as connection_access_address,
        crc_checked as is_crc_checked,
        crc_valid as is_crc_valid,
        flags::integer as flags,
        malformed as malformed_reason,
        _loaded_at as loaded_at
    from source
)

select * from final
