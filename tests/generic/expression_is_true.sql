{#- Fails for every row where `expression` is not true (null counts as a failure).
    With column_name, the expression is appended to the column: `>= 0`. -#}
{% test expression_is_true(model, expression, column_name=None, where=None) %}
    select *
    from {{ model }}
    where
        not coalesce(
            {%- if column_name %} {{ column_name }} {% endif %}{{ expression }},
            false
        )
        {%- if where %} and ({{ where }}){% endif %}
{% endtest %}
