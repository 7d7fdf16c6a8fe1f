{#- An address and port as Bitcoin Core writes a peer: 'ip:port', '[ipv6]:port'. -#}
{% macro peer_endpoint(addr, port) -%}
    case when contains({{ addr }}, ':') then '[' || {{ addr }} || ']' else {{ addr }} end
    || ':' || {{ port }}::string
{%- endmacro %}
