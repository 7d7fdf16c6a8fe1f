with

source as (
    {{ raw_rows('systemd_ip_accounting', 'systemd_ip_accounting_samples') }}
),

final as (
    select
        -- raw keeps systemd's property names (IPIngressBytes...); DuckDB
        -- resolves identifiers case-insensitively
        coalesce(_node, 'default') as node_id,
        timestamp as sampled_at,
        ipingressbytes as ingress_bytes,
        ipegressbytes as egress_bytes,
        ipingresspackets as ingress_packets,
        ipegresspackets as egress_packets,
        -- a timestamp-only row: accounting was off (or systemctl failed)
        coalesce(
            ipingressbytes, ipegressbytes, ipingresspackets, ipegresspackets
        ) is null as is_accounting_off,
        -- a clock at 1970 or 9999: kept out of the series, listed in
        -- fct_implausible_values (negative counters are judged per counter)
        coalesce({{ plausible_time('timestamp') }}, false) as is_plausible_time,
        _source_file as source_file,
        _loaded_at as loaded_at
    from source
)

select * from final
