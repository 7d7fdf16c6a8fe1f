{#- The period column of the traffic rollups: hourly marts carry hour_at (a
    UTC timestamp), daily marts traffic_date (a UTC date). Returns
    {name (model suffix), column, type, bucket (format string of a timestamp
    expression)}. -#}
{% macro traffic_period(period) -%}
    {%- if period == 'hour' -%}
        {{ return({
            'name': 'hourly',
            'column': 'hour_at',
            'type': 'timestamp',
            'bucket': "date_trunc('hour', {})",
        }) }}
    {%- elif period == 'day' -%}
        {{ return({
            'name': 'daily',
            'column': 'traffic_date',
            'type': 'date',
            'bucket': '{}::date',
        }) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "traffic_period: period must be 'hour' or 'day', got " ~ period
        ) }}
    {%- endif -%}
{%- endmacro %}
