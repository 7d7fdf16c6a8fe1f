{#-
    On-wire size of one Bitcoin P2P message, as select-list items:
    payload_bytes, message_bytes, segments, tcpip_bytes.

    payload_bytes   payload size as logged by the tracepoint
    address_family  ipv4 | ipv6 | cjdns | onion | i2p | unknown (staging)
    transport       SQL expression giving 'v1' or 'v2' per row; default the
                    var p2p_transport as a literal (so one var switches all,
                    a column can switch per peer later)
    has_short_id    SQL boolean: msg_type has a BIP324 one-byte id (v2 only)

    See macros/_macros.yml for the model and its assumptions.
-#}
{% macro estimate_wire_bytes(
    payload_bytes,
    address_family,
    transport=none,
    has_short_id='false'
) -%}
    {%- set transport = transport or ("'" ~ var('p2p_transport') ~ "'") -%}
    {%- set mtu = var('mtu_bytes') | int -%}
    {%- set ip4 = var('ipv4_header_bytes') | int -%}
    {%- set ip6 = var('ipv6_header_bytes') | int -%}
    {%- set tcp = var('tcp_header_bytes') | int -%}
    {%- set ack_ratio = var('ack_ratio') | float -%}
    {#- IPv6 sockets for ipv6 and cjdns (a tun device with fc00::/8
        addresses); onion, i2p and loopback peers talk to bitcoind over a
        local IPv4 proxy socket (127.0.0.1), which systemd also counts. -#}
    {%- set ip_header -%}
        (case when {{ address_family }} in ('ipv6', 'cjdns')
            then {{ ip6 }} else {{ ip4 }} end)
    {%- endset -%}
    {#- v1: 4 magic + 12 command + 4 length + 4 checksum = 24.
        v2 (BIP324): 3 length + 1 header + 16 tag + message type
        (1 byte short id, else 1 + 12 bytes). -#}
    {%- set message -%}
        ({{ payload_bytes }} + case
            when {{ transport }} = 'v2'
                then 20 + case when {{ has_short_id }} then 1 else 13 end
            else 24
        end)
    {%- endset -%}
    {%- set mss -%}
        ({{ mtu }} - {{ ip_header }} - {{ tcp }})
    {%- endset -%}
    {#- ceil(message / mss) in integers; a message is never 0 bytes (the
        header is always there), so a 0-byte payload is one segment. -#}
    {%- set segments -%}
        {{ int_div('(' ~ message ~ ' + ' ~ mss ~ ' - 1)', mss) }}
    {%- endset -%}
    {{ payload_bytes }} as payload_bytes,
    {{ message }} as message_bytes,
    {{ segments }} as segments,
    (
        {{ message }} + {{ segments }} * ({{ ip_header }} + {{ tcp }})
    )::double
    {%- if ack_ratio > 0 %}
        + {{ segments }} / {{ ack_ratio }} * ({{ ip_header }} + {{ tcp }})
    {%- endif %} as tcpip_bytes
{%- endmacro %}
