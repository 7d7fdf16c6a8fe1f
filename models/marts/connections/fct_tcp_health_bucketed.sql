{%- set bucket_minutes = var('network_bucket_minutes') -%}
{%- set counted = [
    ('rst', 'is_rst'),
    ('retransmission', 'is_retransmission'),
    ('out_of_order', 'is_out_of_order'),
    ('zero_window', 'is_zero_window'),
    ('duplicate_ack', 'is_duplicate_ack'),
] -%}

with

tcp_packets as (
    select * from {{ ref('int_tcp_packets_analyzed') }}
),

bucketed as (
    select
        *,
        {{ time_bucket_seconds(
            bucket_minutes * 60, timestamp_from_us(int_div('ts_ns', 1000))
        ) }} as bucket_at,
        case when is_orig then dst_addr else src_addr end as resp_addr,
        case when is_orig then dst_port else src_port end as resp_port
    from tcp_packets
),

counted as (
    select
        bucket_at,
        resp_addr,
        resp_port,
        count(distinct connection_id) as connections,
        count(*) as packets,
        {%- for name, flag in counted %}
            count(*) filter (where {{ flag }}) as {{ name }}_packets,
        {%- endfor %}
        count(*) filter (where is_rst and is_orig) as orig_rst_packets,
        count(*) filter (where is_rst and not is_orig) as resp_rst_packets
    from bucketed
    group by all
),

final as (
    select
        bucket_at::timestamp as bucket_at,
        resp_addr::string as resp_addr,
        resp_port::integer as resp_port,
        connections::bigint as connections,
        packets::bigint as packets,
        {%- for name, flag in counted %}
            {{ name }}_packets::bigint as {{ name }}_packets,
        {%- endfor %}
        orig_rst_packets::bigint as orig_rst_packets,
        resp_rst_packets::bigint as resp_rst_packets
    from counted
)

select * from final
