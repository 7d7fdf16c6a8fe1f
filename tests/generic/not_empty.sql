{#- Fails when the model has no rows: a mart that silently comes out empty is a bug. -#}
{% test not_empty(model) %}
    select 1 as is_empty
    where not exists (select 1 from {{ model }})
{% endtest %}
