{#- Text of a UTC timestamp expression in the UTC offset the analysis window was
    given in (vars network_window_start / network_window_end, e.g.
    '2025-06-23 07:32:00-03:00' -> '2025-06-23 07:32:00-03:00'); in UTC
    ('+00:00') when neither var is set or carries no offset. -#}
{% macro network_window_local(at) %}
    {%- set given = var('network_window_start', none) or var('network_window_end', none) -%}
    {%- set found = modules.re.search('([+-])([0-9][0-9]):?([0-9][0-9])$', given | string)
        if given is not none else none -%}
    {%- set sign, hours, minutes = found.groups() if found else ('+', '00', '00') -%}
    {%- set shift = (hours | int) * 60 + (minutes | int) -%}
    {{ format_timestamp(
        add_seconds(at, (shift if sign == '+' else -shift) * 60)
    ) }} || '{{ sign }}{{ hours }}:{{ minutes }}'
{%- endmacro %}
