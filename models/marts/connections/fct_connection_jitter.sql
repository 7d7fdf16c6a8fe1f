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
        directions.connection_id::string as connection_id,
        (case when directions.is_orig then 'orig' else 'resp' end)::string
            as direction,
        connections.capture_id::string as capture_id,
        connections.source_file::string as source_file,
        (
            case
                when directions.is_orig then connections.orig_addr
                else connections.resp_addr
            end
        )::string as sender_addr,
        (
            case
                when directions.is_orig then connections.orig_port
                else connections.resp_port
            end
        )::integer as sender_port,
        connections.resp_addr::string as resp_addr,
        connections.resp_port::integer as resp_port,
        {{ jitter_columns('directions') }}
    from directions
    inner join connections
        on directions.connection_id = connections.connection_id
)

select * from final
