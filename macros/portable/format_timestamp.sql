{#- Text of a timestamp as 'YYYY-MM-DD HH:MM:SS' (fraction dropped) -#}
{% macro format_timestamp(ts) -%}
    {{ return(adapter.dispatch('format_timestamp', 'wirehouse')(ts)) }}
{%- endmacro %}

{% macro default__format_timestamp(ts) -%}
    strftime({{ ts }}, '%Y-%m-%d %H:%M:%S')
{%- endmacro %}

{% macro spark__format_timestamp(ts) -%}
    date_format({{ ts }}, 'yyyy-MM-dd HH:mm:ss')
{%- endmacro %}
