{#- The UTC timestamp of an ISO time text with a UTC offset (a var such as
    network_window_start: '2024-09-13 05:00:00-03:00'); Spark's cast reads the
    offset and, in the UTC session of profiles.yml, gives the UTC time -#}
{% macro timestamp_from_iso(text) -%}
    {{ return(adapter.dispatch('timestamp_from_iso', 'wirehouse')(text)) }}
{%- endmacro %}

{% macro default__timestamp_from_iso(text) -%}
    ('{{ text }}'::timestamptz at time zone 'UTC')
{%- endmacro %}

{% macro spark__timestamp_from_iso(text) -%}
    cast('{{ text }}' as timestamp)
{%- endmacro %}
