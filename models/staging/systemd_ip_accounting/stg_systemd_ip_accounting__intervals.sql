{%- set counters = {
    'ipingressbytes': 'ingress_bytes',
    'ipegressbytes': 'egress_bytes',
    'ipingresspackets': 'ingress_packets',
    'ipegresspackets': 'egress_packets',
} -%}

with

source as (
    {{ raw_rows('systemd_ip_accounting', 'systemd_ip_accounting_intervals') }}
),

final as (
    select
        coalesce(_node, 'default') as node_id,
        timestamp as sampled_at,
        {%- for raw, name in counters.items() %}
            -- whole numbers only: a fraction of a byte is not a measurement
            case
                when {{ raw }} = floor({{ raw }}) then {{ raw }}::bigint
            end as {{ name }}_diff,
        {%- endfor %}
        (
            {%- for raw in counters %}
                coalesce({{ raw }} <> floor({{ raw }}), false)
                {{- ' or' if not loop.last }}
            {%- endfor %}
        ) as has_fractional_value,
        coalesce(
            {{ counters.keys() | join(', ') }}
        ) is null as is_accounting_off,
        coalesce({{ plausible_time('timestamp') }}, false) as is_plausible_time,
        _source_file as source_file,
        _loaded_at as loaded_at
    from source
)

select * from final
