{#- Community ID v1 of a flow (corelight/community-id-spec): '1:' +
    base64(sha1(seed, src ip, dst ip, proto, 0, src port, dst port)), with
    the endpoints ordered so both directions hash alike. -#}
{% macro community_id(src_addr, dst_addr, ip_proto, src_port, dst_port, seed=none) %}
    {%- set seed = var('community_id_seed', 0) if seed is none else seed -%}
    {%- set src_hex = ip_address_hex(src_addr) -%}
    {%- set dst_hex = ip_address_hex(dst_addr) -%}
    {%- set is_ordered -%}
        (
            ({{ src_hex }}) < ({{ dst_hex }})
            or (
                ({{ src_hex }}) = ({{ dst_hex }})
                and coalesce({{ src_port }}, 0) <= coalesce({{ dst_port }}, 0)
            )
        )
    {%- endset -%}
    '1:' || base64(unhex(sha1(unhex(
        printf('%04x', {{ seed }})
        || case
            when {{ is_ordered }} then ({{ src_hex }}) || ({{ dst_hex }})
            else ({{ dst_hex }}) || ({{ src_hex }})
        end
        || printf('%02x', {{ ip_proto }})
        || '00'
        || case
            when {{ src_port }} is null or {{ dst_port }} is null then ''
            when {{ is_ordered }}
                then printf('%04x%04x', {{ src_port }}, {{ dst_port }})
            else printf('%04x%04x', {{ dst_port }}, {{ src_port }})
        end
    ))))
{% endmacro %}
