{#- Predicate: the row falls in the analysis window (vars network_window_start,
    inclusive, and network_window_end, exclusive; ISO times with a UTC offset)
    and touches the server (vars network_server_addr / network_server_port) on
    either side. Unset vars do not filter. -#}
{% macro network_window_filter(at, addr_a, port_a, addr_b, port_b) %}
    {%- set start = var('network_window_start', none) -%}
    {%- set end = var('network_window_end', none) -%}
    {%- set addr = var('network_server_addr', none) -%}
    {%- set port = var('network_server_port', none) -%}
    true
    {%- if start is not none %}
        and {{ at }} >= {{ timestamp_from_iso(start) }}
    {%- endif %}
    {%- if end is not none %}
        and {{ at }} < {{ timestamp_from_iso(end) }}
    {%- endif %}
    {%- if addr is not none %}
        and (
            ({{ addr_a }} = '{{ addr }}'
            {%- if port is not none %} and {{ port_a }} = {{ port }}{% endif %})
            or ({{ addr_b }} = '{{ addr }}'
            {%- if port is not none %} and {{ port_b }} = {{ port }}{% endif %})
        )
    {%- endif %}
{% endmacro %}
