with

gaps as (
    select * from {{ ref('int_packet_gaps_measured') }}
),

connections as (
    select * from {{ ref('fct_connections') }}
),

-- mean |change of IAT| without idle gaps, and RFC 3550's smoothed jitter
directions as (
    {{ jitter_per_group('gaps', ['connection_id', 'is_orig']) }}
),

final as (
    select
        directions.connection_id::varchar as connection_id,
        (case when directions.is_orig then 'orig' else 'resp' end)::varchar
            as direction,
        connections.source_file::varchar as source_file,
        (
            case
                when directions.is_orig then connections.orig_addr
                else connections.resp_addr
            end
        )::varchar as sender_addr,
        (
            case
                when directions.is_orig then connections.orig_port
                else connections.resp_port
            end
        )::integer as sender_port,
        connections.resp_addr::varchar as resp_addr,
        connections.resp_port::integer as resp_port,
        directions.iats::bigint as iats,
        directions.idle_gaps::bigint as idle_gaps,
        directions.iat_changes::bigint as iat_changes,
        (directions.mean_iat_ns / 1e6)::double as mean_iat_ms,
        (directions.jitter_ns / 1e6)::double as jitter_ms,
        (
            case
                when directions.iat_changes > 0
                    then directions.rfc3550_jitter_ns / 1e6
            end
        )::double as rfc3550_jitter_ms
    from directions
    inner join connections
        on directions.connection_id = connections.connection_id
)

select * from final
