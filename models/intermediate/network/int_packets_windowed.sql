-- The one place the analysis window and server filter apply to packets.
with

packets as (
    select * from {{ ref('stg_pcap__packets') }}
),

windowed as (
    select *
    from packets
    where
        ts_ns is not null
        and ip_version is not null
        and {{ network_window_filter(
            'captured_at', 'src_addr', 'src_port', 'dst_addr', 'dst_port'
        ) }}
)

select * from windowed
