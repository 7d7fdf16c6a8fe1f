{#- Fails when the model has no rows: a mart that silently comes out empty is a bug.
    With `upstream`, it fails only when the upstream relation has rows (a warehouse
    holding no captures legitimately has empty capture marts); `upstream_where`
    narrows that to the upstream rows the model reads (a Bluetooth sniff has
    packets but no IP addresses, so no talkers). -#}
{% test not_empty(model, upstream=none, upstream_where=none) %}
    select 1 as is_empty
    where
        not exists (select 1 from {{ model }})
        {%- if upstream is not none %}
            and exists (
                select 1 from {{ upstream }}
                {%- if upstream_where is not none %} where {{ upstream_where }}{% endif %}
            )
        {%- endif %}
{% endtest %}
