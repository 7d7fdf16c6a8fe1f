{%- set counters = [
    'ingress_bytes', 'egress_bytes', 'ingress_packets', 'egress_packets'
] -%}

with

messages as (
    select * from {{ ref('stg_bitcoin_p2p__messages') }}
    where not is_plausible
),

samples as (
    select * from {{ ref('stg_systemd_ip_accounting__samples') }}
    where not is_plausible_time
),

intervals as (
    select * from {{ ref('stg_systemd_ip_accounting__intervals') }}
    where not is_plausible_time
),

counter_samples as (
    select * from {{ ref('int_counter_samples_differenced') }}
),

tshark_packets as (
    select * from {{ ref('stg_tshark__packets') }}
    where not is_plausible_length
),

flagged as (
    select
        'tracepoints' as source_kind,
        node_id,
        source_file,
        null::bigint as frame_number,
        logged_at as observed_at,
        case
            when implausible_reason like 'time%' then 'timestamp' else 'size'
        end as column_name,
        implausible_reason as check_name,
        case
            when implausible_reason like 'time%' then logged_at::string
            else payload_bytes::string
        end as observed_value
    from messages
    {%- for model in ['samples', 'intervals'] %}
        union all
        select
            'systemd' as source_kind,
            node_id,
            source_file,
            null::bigint as frame_number,
            sampled_at as observed_at,
            'timestamp' as column_name,
            'time outside the plausible range' as check_name,
            sampled_at::string as observed_value
        from {{ model }}
    {%- endfor %}
    {%- for counter in counters %}
        union all
        select
            'systemd' as source_kind,
            node_id,
            source_file,
            null::bigint as frame_number,
            sampled_at as observed_at,
            '{{ counter }}' as column_name,
            case
                when {{ counter }}_as_logged < 0 then 'negative counter'
                when is_{{ counter }}_glitch then 'counter glitch'
                else 'step faster than the link'
            end as check_name,
            coalesce(
                {{ counter }}_as_logged, {{ counter }}_raw_diff
            )::string as observed_value
        from counter_samples
        where is_{{ counter }}_glitch or is_{{ counter }}_implausible_step
    {%- endfor %}
    union all
    select
        'tshark' as source_kind,
        node_id,
        source_file,
        frame_number,
        -- microseconds, like the other kinds' times (a union takes the finest
        -- type, and a far-off tracepoint time has no nanosecond form)
        captured_at::timestamp as observed_at,
        'length' as column_name,
        length_implausible_reason as check_name,
        -- both lengths as exported: frame.len / frame.cap_len
        coalesce(wire_bytes_as_logged::string, '')
        || ' / '
        || coalesce(captured_bytes_as_logged::string, '') as observed_value
    from tshark_packets
),

counted as (
    select
        source_kind,
        node_id,
        source_file,
        frame_number,
        observed_at,
        column_name,
        check_name,
        observed_value,
        count(*) as row_count
    from flagged
    group by all
),

final as (
    select
        source_kind::string as source_kind,
        node_id::string as node_id,
        source_file::string as source_file,
        frame_number::bigint as frame_number,
        observed_at::timestamp as observed_at,
        column_name::string as column_name,
        check_name::string as check_name,
        observed_value::string as observed_value,
        row_count::bigint as row_count
    from counted
)

select * from final
