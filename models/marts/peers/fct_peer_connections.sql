{%- set min_seconds = var('min_connection_seconds') -%}
{#- incremental (partition_by node_id): every connection of a node with new
    messages, recomputed from all its hours, so a connection across midnight
    and one whose id a restart found in the new rows changed are both
    replaced, never left behind -#}
{%- set changes = nodes_changed('messages') -%}

with

connection_messages as (
    select * from {{ ref('int_connection_messages_aggregated') }}
    where connection_id is not null and {{ rebuilt_rows(changes) }}
),

connections as (
    select
        connection_id,
        node_id,
        node_run_id,
        peer_id,
        peer_addr,
        any_value(peer_host) as peer_host,
        any_value(address_family) as address_family,
        bool_or(is_loopback) as is_loopback,
        max_by(peer_conn_type, msgs) as peer_conn_type,
        {%- for flow in ['in', 'out'] %}
            coalesce(
                sum(msgs) filter (where flow = '{{ flow }}'), 0
            ) as {{ flow }}_msgs,
            coalesce(
                sum(payload_bytes) filter (where flow = '{{ flow }}'), 0
            ) as {{ flow }}_payload_bytes,
            coalesce(
                sum(
                    tcpip_bytes::decimal(38, 9)
                ) filter (where flow = '{{ flow }}'),
                0
            )::double as {{ flow }}_tcpip_bytes,  -- exact: see exact_sum
        {%- endfor %}
        min(first_logged_at) as first_message_at,
        max(last_logged_at) as last_message_at,
        max(loaded_at) as loaded_at
    from connection_messages
    group by all
),

timed as (
    select
        *,
        {{ datediff_seconds('first_message_at', 'last_message_at') }}
            as connection_seconds,
        in_msgs + out_msgs as total_msgs,
        in_payload_bytes + out_payload_bytes as total_payload_bytes,
        in_tcpip_bytes + out_tcpip_bytes as total_tcpip_bytes
    from connections
),

rated as (
    select
        *,
        connection_seconds >= {{ min_seconds }} as is_long_connection,
        {%- for side in ['in', 'out', 'total'] %}
            case
                when connection_seconds >= {{ min_seconds }}
                    then {{ side }}_tcpip_bytes / connection_seconds
            end as {{ side }}_tcpip_bytes_per_second,
            case
                when connection_seconds >= {{ min_seconds }}
                    then {{ side }}_msgs * 3600 / connection_seconds
            end as {{ side }}_msgs_per_hour,
            -- the notebook's bw_{{ side }}: payload (P2P size) per second
            case
                when connection_seconds >= {{ min_seconds }}
                    then {{ side }}_payload_bytes / connection_seconds
            end as {{ side }}_payload_bytes_per_second,
        {%- endfor %}
        in_msgs / nullif(out_msgs, 0) as in_out_msgs_ratio
    from timed
),

final as (
    select
        {{ peer_connection_key_columns() }},
        is_long_connection::boolean as is_long_connection,
        {%- for side in ['in', 'out', 'total'] %}
            {{ side }}_msgs::bigint as {{ side }}_msgs,
        {%- endfor %}
        {%- for side in ['in', 'out', 'total'] %}
            {{ side }}_payload_bytes::bigint as {{ side }}_payload_bytes,
        {%- endfor %}
        {%- for side in ['in', 'out', 'total'] %}
            {{ side }}_tcpip_bytes::double as {{ side }}_tcpip_bytes,
        {%- endfor %}
        {%- for side in ['in', 'out', 'total'] %}
            {{ side }}_tcpip_bytes_per_second::double
                as {{ side }}_tcpip_bytes_per_second,
        {%- endfor %}
        {%- for side in ['in', 'out', 'total'] %}
            {{ side }}_payload_bytes_per_second::double
                as {{ side }}_payload_bytes_per_second,
        {%- endfor %}
        {%- for side in ['in', 'out', 'total'] %}
            {{ side }}_msgs_per_hour::double as {{ side }}_msgs_per_hour,
        {%- endfor %}
        in_out_msgs_ratio::double as in_out_msgs_ratio,
        loaded_at::timestamp as loaded_at
    from rated
)

select * from final
