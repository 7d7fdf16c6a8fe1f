with

source as (
    {{ raw_rows('bluetooth', 'bluetooth_bredr_packets') }}
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
        access_code_offenses::integer as access_code_offenses,
        transport::integer as transport,
        rate::integer as rate,
        corrected_header_bits::integer as corrected_header_bits,
        corrected_payload_bits::integer as corrected_payload_bits,
        lap::integer as lap,
        uap::integer as uap,
        nap::integer as nap,
        lt_addr::integer as lt_addr,
        type_code::integer as type_code,
        flow as is_flow,
        arqn as is_arqn,
        seqn as is_seqn,
        hec::integer as hec,
        hec_valid as is_hec_valid,
        payload_len::bigint as payload_bytes,
        clock::bigint as clock,
        clock_bits::integer as clock_bits,
        flags::integer as flags,
        (flags & 8) != 0 as is_payload_decrypted,
        (flags & 64) != 0 as is_channel_aliased,
        case when (flags & 1024) != 0 then (flags & 2048) != 0 end
            as is_crc_valid,
        malformed as malformed_reason,
        _loaded_at as loaded_at
    from source
)

select * from final
