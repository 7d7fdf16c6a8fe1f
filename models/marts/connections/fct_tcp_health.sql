{%- set counted = [
    ('rst', 'is_rst'),
    ('retransmission', 'is_retransmission'),
    ('fast_retransmission', 'is_fast_retransmission'),
    ('spurious_retransmission', 'is_spurious_retransmission'),
    ('out_of_order', 'is_out_of_order'),
    ('zero_window', 'is_zero_window'),
    ('zero_window_probe', 'is_zero_window_probe'),
    ('duplicate_ack', 'is_duplicate_ack'),
    ('keep_alive', 'is_keep_alive'),
    ('window_update', 'is_window_update'),
    ('lost_segment', 'is_lost_segment'),
] -%}

with

tcp_packets as (
    select * from {{ ref('int_tcp_packets_analyzed') }}
),

connections as (
    select * from {{ ref('fct_connections') }}
),

counted as (
    select
        connection_id,
        count(*) as packets,
        {%- for name, flag in counted %}
            count(*) filter (where {{ flag }}) as {{ name }}_packets,
            count(*) filter (
                where {{ flag }} and is_orig
            ) as orig_{{ name }}_packets,
            count(*) filter (
                where {{ flag }} and not is_orig
            ) as resp_{{ name }}_packets,
        {%- endfor %}
        min_by(
            case when is_orig then 'orig' else 'resp' end, frame_number
        ) filter (where is_rst) as first_rst_side
    from tcp_packets
    group by all
),

final as (
    select
        {{ connection_key_columns('connections') }},
        connections.conn_state::string as conn_state,
        counted.packets::bigint as packets,
        {%- for name, flag in counted %}
            counted.{{ name }}_packets::bigint as {{ name }}_packets,
            counted.orig_{{ name }}_packets::bigint
                as orig_{{ name }}_packets,
            counted.resp_{{ name }}_packets::bigint
                as resp_{{ name }}_packets,
        {%- endfor %}
        counted.first_rst_side::string as first_rst_side
    from connections
    inner join counted
        on connections.connection_id = counted.connection_id
)

select * from final
