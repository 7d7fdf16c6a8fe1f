{#- A model's primary key: fails for every combination of `columns` that
    occurs more than once or has a NULL in a column not listed in `nullable`,
    in one scan (what a unique-combination test plus a not_null test per
    column would find). A `nullable` key column may hold NULL as a value (a
    preprocessed log's rows have no connection): NULLs there compare equal. -#}
{% test primary_key(model, columns, nullable=[]) %}
    {%- set listed = columns | join(', ') %}
    select
        {{ listed }},
        count(*) as n_records
    from {{ model }}
    group by {{ listed }}
    having
        count(*) > 1
        {%- for column in columns if column not in nullable %}
            or {{ column }} is null
        {%- endfor %}
{% endtest %}
