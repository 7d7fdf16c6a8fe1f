with

source as (
    select * from {{ source('systemd_ip_accounting', 'systemd_ip_accounting_samples') }}
),

final as (
    select
        "timestamp" as sampled_at,
        "IPIngressBytes" as ingress_bytes,
        "IPEgressBytes" as egress_bytes,
        "IPIngressPackets" as ingress_packets,
        "IPEgressPackets" as egress_packets,
        -- nix-bitcoin-monitor writes a timestamp-only row when accounting is off
        coalesce(
            "IPIngressBytes", "IPEgressBytes", "IPIngressPackets", "IPEgressPackets"
        ) is null as is_accounting_off,
        _source_file as source_file,
        _loaded_at as loaded_at
    from source
)

select * from final
